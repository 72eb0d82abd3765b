# The two functions, both from the artifact of infra/aws/build_lambda.py, configured as in
# template.yaml (runtime, architecture, memory, timeouts, environment, log groups).

resource "aws_cloudwatch_log_group" "rotation" {
  name              = "/aws/lambda/${local.rotation_function_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "publisher" {
  name              = "/aws/lambda/${local.publisher_function_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "rotation" {
  function_name    = local.rotation_function_name
  description      = "Secrets Manager rotation of VGS service accounts and access credentials (createSecret/setSecret/testSecret/finishSecret)."
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "rotation.lambda_rotation.handler"
  runtime          = "python3.12"
  architectures    = ["arm64"]
  # 512 MB mostly buys a faster cold start (CPU is proportional to memory). The 300 s
  # timeout covers the longest step (testSecret's bounded retries): see template.yaml.
  memory_size = 512
  timeout     = 300
  role        = aws_iam_role.rotation.arn

  environment {
    variables = merge(local.common_environment, { POWERTOOLS_SERVICE_NAME = "vgs-rotation" })
  }

  tracing_config {
    mode = var.enable_tracing ? "Active" : "PassThrough"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.rotation.name
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = local.tags

  # The function starts with its permissions in place.
  depends_on = [aws_iam_role_policy.rotation, aws_iam_role_policy_attachment.vpc_access]
}

# Secrets Manager may invoke the rotation function, only on behalf of this account.
resource "aws_lambda_permission" "secretsmanager" {
  statement_id   = "secretsmanager"
  function_name  = aws_lambda_function.rotation.function_name
  action         = "lambda:InvokeFunction"
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account
}

resource "aws_lambda_function" "publisher" {
  function_name    = local.publisher_function_name
  description      = "Mints VGS access tokens with the current credentials and publishes them to token secrets ahead of expiry."
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "rotation.lambda_publisher.handler"
  runtime          = "python3.12"
  architectures    = ["arm64"]
  memory_size      = 512
  # Far below the refresh period (>= 5 minutes): two runs never overlap.
  timeout = 120
  role    = aws_iam_role.publisher.arn

  environment {
    variables = merge(local.common_environment, { POWERTOOLS_SERVICE_NAME = "vgs-publisher" })
  }

  tracing_config {
    mode = var.enable_tracing ? "Active" : "PassThrough"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.publisher.name
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.publisher, aws_iam_role_policy_attachment.vpc_access]
}
