"""Property-based fuzzing (hypothesis) and schema fuzzing (schemathesis) of the client and the sandbox."""
