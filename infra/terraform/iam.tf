# The functions' roles: the same statements as template.yaml's RotationRole and PublisherRole
# (and infra/aws/iam-policy*.json); tests/test_terraform.py compares all three.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rotation" {
  name               = local.rotation_function_name
  description        = "vgs-rotation rotation function; Secrets Manager access limited to secrets that name this function as their rotator."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "rotation" {
  name = "rotate-vgs-secrets"
  role = aws_iam_role.rotation.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # The four calls of a rotation, only on the rotated secrets, and only on those whose
      # rotation is configured with this very function.
      {
        Sid    = "RotateSecretsThatNameThisFunction"
        Effect = "Allow"
        Action = [
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "secretsmanager:PutSecretValue",
          "secretsmanager:UpdateSecretVersionStage",
        ]
        Resource = local.rotated_secret_arn
        Condition = {
          StringEquals = { "secretsmanager:resource/AllowRotationLambdaArn" = local.rotation_function_arn }
        }
      },
      {
        Sid      = "ReadManagerAccount"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = aws_secretsmanager_secret.manager.arn
      },
      {
        Sid      = "UseKeyThroughSecretsManager"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = local.kms_key_arn
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
          StringLike   = { "kms:EncryptionContext:SecretARN" = [local.rotated_secret_arn, local.manager_secret_arn] }
        }
      },
      {
        Sid       = "DescribeKeyThroughSecretsManager"
        Effect    = "Allow"
        Action    = "kms:DescribeKey"
        Resource  = local.kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.rotation.arn}:*"
      },
      {
        Sid      = "Tracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role" "publisher" {
  name               = local.publisher_function_name
  description        = "vgs-rotation publisher; reads rotated credentials, writes only token secrets."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "publisher" {
  name = "publish-vgs-tokens"
  role = aws_iam_role.publisher.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadRotatedCredentials"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = local.rotated_secret_arn
      },
      # Reading a token secret lets the publisher skip a write while the published token
      # still has life left; writing is limited to token secrets.
      {
        Sid      = "ReadAndWriteTokenSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"]
        Resource = local.token_secret_arn
      },
      {
        Sid      = "UseKeyThroughSecretsManager"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = local.kms_key_arn
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
          StringLike   = { "kms:EncryptionContext:SecretARN" = [local.rotated_secret_arn, local.token_secret_arn] }
        }
      },
      {
        Sid       = "DescribeKeyThroughSecretsManager"
        Effect    = "Allow"
        Action    = "kms:DescribeKey"
        Resource  = local.kms_key_arn
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.publisher.arn}:*"
      },
      {
        Sid      = "Tracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}

# In a VPC, Lambda needs to manage the functions' network interfaces (as in template.yaml).
resource "aws_iam_role_policy_attachment" "vpc_access" {
  for_each = local.in_vpc ? { rotation = aws_iam_role.rotation.name, publisher = aws_iam_role.publisher.name } : {}

  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# EventBridge Scheduler's role: invoke the publisher, dead-letter into its queue (what SAM
# generates for the template's ScheduleV2 event).
resource "aws_iam_role" "scheduler" {
  name = "${local.name_base}-scheduler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = ["sts:AssumeRole"]
      Principal = { Service = ["scheduler.amazonaws.com"] }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-publisher"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.publisher.arn },
      { Effect = "Allow", Action = "sqs:SendMessage", Resource = aws_sqs_queue.publisher_dlq.arn },
    ]
  })
}
