# A consumer may read short-lived VGS access tokens for its role(s), nothing else.
# Replace "vgs" with the mount path and "*" with the role names the consumer may use.
path "vgs/token/*" {
  capabilities = ["read"]
}
