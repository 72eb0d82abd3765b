# A complete deployment: the module, and (with create_example_secret = true) an example
# rotated secret with its token secret, like template.yaml's CreateExampleSecret.
#
#   python3 infra/aws/build_lambda.py        # -> build/lambda.zip, from the repository root
#   cd infra/terraform/examples/complete
#   terraform init && terraform apply        # then bootstrap the manager, then
#   terraform apply -var create_example_secret=true -var vgs_organization_id=... -var vgs_vault_id=...
#
# docs/DEPLOY.md "Terraform" walks through it.

terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  lambda_zip   = coalesce(var.lambda_zip, "${path.module}/../../../../build/lambda.zip")
  secret_path  = "${var.secret_name_prefix}/${var.environment}"
  example_name = var.example_secret_name
}

module "vgs_rotation" {
  source = "../.."

  environment                  = var.environment
  secret_name_prefix           = var.secret_name_prefix
  lambda_zip                   = local.lambda_zip
  rotation_schedule_expression = var.rotation_schedule_expression
  alarm_email                  = var.alarm_email

  # The seed version's arn is the secret's ARN: taking it from there configures the rotation
  # (which rotates at once) only after the seed document is written.
  rotated_secrets = var.create_example_secret ? {
    (local.example_name) = { secret_arn = aws_secretsmanager_secret_version.example_seed[0].arn }
  } : {}

  publisher_targets = var.create_example_secret ? [{
    credential_secret_id = aws_secretsmanager_secret.example[0].arn
    token_secret_id      = aws_secretsmanager_secret.example_token[0].arn
  }] : []
}

# The example rotated secret. Its first value is a seed document: everything the rotation
# needs and a placeholder credential, which the first rotation (when its rotation is
# configured) replaces with a service account created by the manager.
resource "aws_secretsmanager_secret" "example" {
  count = var.create_example_secret ? 1 : 0

  name        = "${local.secret_path}/rotated/${local.example_name}"
  description = "VGS service account rotated by the vgs-rotation Lambda (see README \"The secret document\")."
  kms_key_id  = module.vgs_rotation.kms_key_arn
  tags = {
    "vgs-rotation:kind" = "service-account"
    "vgs-rotation:role" = "rotated"
  }
}

resource "aws_secretsmanager_secret_version" "example_seed" {
  count = var.create_example_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.example[0].id
  secret_string = jsonencode({
    kind               = "service-account"
    manager_secret_arn = module.vgs_rotation.manager_secret_arn
    organization_id    = var.vgs_organization_id
    vault_ids          = [var.vgs_vault_id]
    scopes             = var.example_scopes
    token_lifespan     = 1200
    name               = local.example_name
    revoke             = "next-rotation"
    client_id          = "seed-not-a-credential"
    client_secret      = "seed-not-a-credential"
    hosts              = var.vgs_hosts
  })

  # Rotations add versions and move AWSCURRENT off the seed: not drift.
  lifecycle {
    ignore_changes = [version_stages]
  }
}

# Where the publisher writes the example secret's short-lived access token. Created empty;
# the publisher's first run writes it. Consumers read only this secret.
resource "aws_secretsmanager_secret" "example_token" {
  count = var.create_example_secret ? 1 : 0

  name        = "${local.secret_path}/tokens/${local.example_name}"
  description = "Short-lived VGS access token for the example secret, refreshed by the publisher."
  kms_key_id  = module.vgs_rotation.kms_key_arn
  tags        = { "vgs-rotation:role" = "token" }
}
