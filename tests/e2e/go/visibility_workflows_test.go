package e2e

// Workflows of the visibility tests: search-attribute upserts and a
// change-version marker, then optionally waiting for the finish signal.

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Typed keys of the custom search attributes the visibility tests register.
var (
	saCustomer = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	saNotes    = temporal.NewSearchAttributeKeyString("Notes")
	saAmount   = temporal.NewSearchAttributeKeyInt64("Amount")
	saScore    = temporal.NewSearchAttributeKeyFloat64("Score")
	saVip      = temporal.NewSearchAttributeKeyBool("Vip")
	saDueAt    = temporal.NewSearchAttributeKeyTime("DueAt")
	saTags     = temporal.NewSearchAttributeKeyKeywordList("Tags")
)

// VisibilityInput says what a VisibilityWorkflow run does.
type VisibilityInput struct {
	// Upsert sets CustomerId, Amount and Tags from the workflow and records
	// the change version "fix-1" (TemporalChangeVersion "fix-1-1").
	Upsert   bool
	Customer string
	Amount   int64
	Tags     []string
	// Wait keeps the run open until the "finish" signal.
	Wait bool
}

func VisibilityWorkflow(ctx workflow.Context, in VisibilityInput) (string, error) {
	if in.Upsert {
		workflow.GetVersion(ctx, "fix-1", workflow.DefaultVersion, 1)
		err := workflow.UpsertTypedSearchAttributes(ctx,
			saCustomer.ValueSet(in.Customer), saAmount.ValueSet(in.Amount), saTags.ValueSet(in.Tags))
		if err != nil {
			return "", err
		}
	}
	if in.Wait {
		var v string
		workflow.GetSignalChannel(ctx, signalFinish).Receive(ctx, &v)
	}
	return "done", nil
}
