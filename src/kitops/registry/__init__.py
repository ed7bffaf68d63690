"""OCI distribution client: a remote repository is one more Store."""
