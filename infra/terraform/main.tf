# vgs-rotation for Terraform: what template.yaml creates, with the same least privilege.
# tests/test_terraform.py compares this module's IAM with the template's and with
# infra/aws/iam-policy*.json, and creates both deployments in moto's server.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  name_base               = "${var.function_name_prefix}-${var.environment}"
  rotation_function_name  = "${local.name_base}-rotation"
  publisher_function_name = "${local.name_base}-publisher"
  # Built from the name, not from the function: the role's policy would otherwise depend on
  # the function that depends on the role.
  rotation_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${local.rotation_function_name}"

  secret_path        = "${var.secret_name_prefix}/${var.environment}"
  secret_arn_prefix  = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${local.secret_path}"
  rotated_secret_arn = "${local.secret_arn_prefix}/rotated/*"
  token_secret_arn   = "${local.secret_arn_prefix}/tokens/*"
  manager_secret_arn = "${local.secret_arn_prefix}/manager-*"

  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.secrets[0].arn : var.kms_key_arn
  in_vpc         = length(var.subnet_ids) > 0

  # The publisher refuses a configuration without targets: without any, keep the schedule
  # disabled (and the alarm that expects it to run absent).
  publisher_scheduled = length(var.publisher_targets) > 0
  publisher_config = jsonencode({
    targets = [for t in var.publisher_targets : {
      credential_secret_id = t.credential_secret_id
      token_secret_id      = t.token_secret_id
      vault_path           = null
    }]
    refresh_threshold_seconds = var.token_refresh_threshold_seconds
    concurrency               = var.publisher_concurrency
  })

  # The functions' environment, as in template.yaml. Timeout arithmetic is there: one VGS
  # call costs at most 5 s x 3 attempts, far below each function's timeout.
  common_environment = {
    VGS_HTTP_TIMEOUT_SECONDS           = "5"
    VGS_HTTP_MAX_ATTEMPTS              = "3"
    VGS_AWS_TIMEOUT_SECONDS            = "5"
    POWERTOOLS_METRICS_NAMESPACE       = "VGSRotation"
    POWERTOOLS_LOGGER_LOG_EVENT        = "false"
    POWERTOOLS_TRACER_CAPTURE_RESPONSE = "false"
    VGS_TRACING                        = tostring(var.enable_tracing)
  }

  tags = merge(var.tags, { "vgs-rotation:environment" = var.environment })
}
