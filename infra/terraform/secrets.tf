# The manager service account that creates and deletes the rotated accounts. Created empty:
# `vgs-rotate bootstrap-manager` writes its value (never through Terraform, whose state is not
# the place for a client secret). `terraform destroy` leaves it recoverable for 30 days
# (template.yaml retains it).
resource "aws_secretsmanager_secret" "manager" {
  name                    = "${local.secret_path}/manager"
  description             = "VGS manager service account (client_id, client_secret, organization_id). Not rotated by this module."
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = 30
  tags                    = merge(local.tags, { "vgs-rotation:role" = "manager" })
}

# Rotation of the given secrets by the rotation function. Secrets Manager rotates a secret
# once when its rotation is configured (rotate_immediately), then on the schedule.
resource "aws_secretsmanager_secret_rotation" "this" {
  for_each = var.rotated_secrets

  secret_id           = each.value.secret_arn
  rotation_lambda_arn = aws_lambda_function.rotation.arn
  rotate_immediately  = each.value.rotate_immediately

  rotation_rules {
    schedule_expression = coalesce(each.value.schedule_expression, var.rotation_schedule_expression)
    duration            = try(coalesce(each.value.rotation_window, var.rotation_window), null)
  }

  lifecycle {
    precondition {
      condition     = startswith(each.value.secret_arn, "${local.secret_arn_prefix}/rotated/")
      error_message = "rotated_secrets[\"${each.key}\"]: the rotation role may only rotate secrets named ${local.secret_path}/rotated/NAME; ${each.value.secret_arn} is not one."
    }
  }

  # The function must be allowed to run and to touch the secret before the first rotation.
  depends_on = [aws_lambda_permission.secretsmanager, aws_iam_role_policy.rotation]
}
