/**
 * Workflow definitions bundled by the Worker (workflowsPath points here).
 *
 * Only import '@temporalio/workflow' (and type-only imports) from workflow
 * files: this code runs inside the deterministic workflow sandbox.
 *
 * Add new workflows in their own file under src/workflows/ and re-export them
 * from this index so every test's worker can find them.
 */
export * from './hello';
export * from './failures';
export * from './messages';
export * from './children';
export * from './webui';
export * from './versioning';
export * from './nexus';
