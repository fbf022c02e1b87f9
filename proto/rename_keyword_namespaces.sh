#!/usr/bin/env bash
# protoc 3.21 maps the proto packages temporal.api.namespace.v1 and
# temporal.api.export.v1 onto C++ namespaces called `namespace` and `export`,
# which are C++ keywords. Rename them to `namespace_` / `export_` in the
# generated C++ only; package names inside the embedded descriptors (the wire
# names, written with dots) are left untouched.
set -euo pipefail
dir="$1"
find "$dir" \( -name '*.pb.h' -o -name '*.pb.cc' \) -print0 |
  xargs -0 sed -i -E \
    -e 's/namespace (namespace|export) \{/namespace \1_ {/g' \
    -e 's/::(namespace|export)::v1::/::\1_::v1::/g' \
    -e 's/\b(namespace|export)::v1::/\1_::v1::/g'
