# Alarms and Secrets Manager's rotation failures, all to one SNS topic.

resource "aws_sns_topic" "alerts" {
  name         = "${local.name_base}-alerts"
  display_name = "vgs-rotation alerts"
  tags         = local.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeRotationEvents"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.rotation_events.arn } }
      },
      {
        Sid       = "CloudWatchAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Secrets Manager reports rotation outcomes as CloudTrail *service* events (detail-type
# "AWS Service Event via CloudTrail", not "AWS API Call via CloudTrail").
resource "aws_cloudwatch_event_rule" "rotation_events" {
  name        = "${local.name_base}-rotation-events"
  description = "Secrets Manager rotation failed, was abandoned, or its test failed."
  state       = "ENABLED"
  event_pattern = jsonencode({
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS Service Event via CloudTrail"]
    detail = {
      eventSource = ["secretsmanager.amazonaws.com"]
      eventName   = ["RotationFailed", "RotationAbandoned", "TestRotationFailed"]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "rotation_events" {
  rule      = aws_cloudwatch_event_rule.rotation_events.name
  target_id = "alert-topic"
  arn       = aws_sns_topic.alerts.arn
}

resource "aws_cloudwatch_metric_alarm" "rotation_errors" {
  alarm_name          = "${local.name_base}-rotation-errors"
  alarm_description   = "The rotation function raised an error (a failed step). See docs/DEPLOY.md \"Alarms\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.rotation.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "publisher_errors" {
  alarm_name          = "${local.name_base}-publisher-errors"
  alarm_description   = "The publisher failed for at least one credential twice in a row. See docs/DEPLOY.md \"Alarms\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.publisher.function_name }
  statistic           = "Sum"
  period              = 600
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "publisher_not_running" {
  count = local.publisher_scheduled ? 1 : 0

  alarm_name          = "${local.name_base}-publisher-not-running"
  alarm_description   = "The publisher has not run for 30 minutes (schedule disabled or broken); published tokens will expire."
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = aws_lambda_function.publisher.function_name }
  statistic           = "Sum"
  period              = 1800
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "publisher_dead_letters" {
  alarm_name          = "${local.name_base}-publisher-dead-letters"
  alarm_description   = "Scheduler could not deliver publisher runs (messages in the dead-letter queue). See docs/DEPLOY.md \"Alarms\"."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.publisher_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}
