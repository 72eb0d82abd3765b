# A customer-managed key for the secrets, usable only through Secrets Manager in this region
# and only for this deployment's secrets; or the key given in kms_key_arn.
# template.yaml retains the key on stack deletion; here `terraform destroy` schedules its
# deletion after 30 days (aws kms cancel-key-deletion brings it back).

resource "aws_kms_key" "secrets" {
  count = local.create_kms_key ? 1 : 0

  description             = "vgs-rotation ${var.environment}: encrypts the VGS secrets under ${local.secret_path}/"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Administration by the account (through IAM), but not use: nobody can call
      # kms:Decrypt or kms:GenerateDataKey directly with this key.
      {
        Sid       = "KeyAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action = [
          "kms:Create*",
          "kms:Describe*",
          "kms:Enable*",
          "kms:List*",
          "kms:Put*",
          "kms:Update*",
          "kms:Revoke*",
          "kms:Disable*",
          "kms:Get*",
          "kms:Delete*",
          "kms:TagResource",
          "kms:UntagResource",
          "kms:ScheduleKeyDeletion",
          "kms:CancelKeyDeletion",
          "kms:RotateKeyOnDemand",
        ]
        Resource = "*"
      },
      # Use only through Secrets Manager in this region, only for this deployment's secrets
      # (encryption context), and only by principals whose IAM policies allow it.
      {
        Sid       = "UseThroughSecretsManagerForTheseSecrets"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:ViaService"    = "secretsmanager.${local.region}.amazonaws.com"
            "kms:CallerAccount" = local.account
          }
          StringLike = {
            "kms:EncryptionContext:SecretARN" = "${local.secret_arn_prefix}/*"
          }
        }
      },
    ]
  })
  tags = local.tags
}

resource "aws_kms_alias" "secrets" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${local.name_base}-secrets"
  target_key_id = aws_kms_key.secrets[0].key_id
}
