"""AWS deployment helpers: schedule checks, the Lambda artifact build, the manager-secret bootstrap."""
