# An operator configures the engine, manages roles and static roles, and rotates credentials.
# Reading config never returns the manager secret.
path "vgs/config" {
  capabilities = ["create", "read", "update", "delete"]
}
path "vgs/config/rotate-root" {
  capabilities = ["update"]
}
path "vgs/roles" {
  capabilities = ["list"]
}
path "vgs/roles/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "vgs/static-roles" {
  capabilities = ["list"]
}
path "vgs/static-roles/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "vgs/rotate-role/*" {
  capabilities = ["update"]
}
path "vgs/tidy" {
  capabilities = ["update"]
}
# Counters of the plugin process (storage calls, token cache hits and mints); no secret.
path "vgs/stats" {
  capabilities = ["read"]
}
# Revoke leases issued by the engine (e.g. after an incident).
path "sys/leases/revoke-prefix/vgs/*" {
  capabilities = ["update"]
}
