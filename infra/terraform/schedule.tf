# The publisher runs every token_refresh_minutes on an EventBridge Scheduler schedule with
# the template's retry policy and dead-letter queue.

resource "aws_sqs_queue" "publisher_dlq" {
  name                      = "${local.name_base}-publisher-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_scheduler_schedule" "publisher" {
  # Schedule names are unique per account and region: named per environment.
  name                = "${local.name_base}-publisher-refresh"
  description         = "Refresh the published VGS access tokens ahead of expiry."
  schedule_expression = "rate(${var.token_refresh_minutes} minutes)"
  state               = local.publisher_scheduled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.publisher.arn
    role_arn = aws_iam_role.scheduler.arn
    # The publisher configuration of docs/ARCHITECTURE.md.
    input = local.publisher_config

    # One run is cheap and the next one comes within token_refresh_minutes: retry twice,
    # and give up on an event older than 5 minutes (a stale run would only race the next).
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 300
    }

    dead_letter_config {
      arn = aws_sqs_queue.publisher_dlq.arn
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for t in var.publisher_targets : startswith(t.credential_secret_id, "${local.secret_arn_prefix}/rotated/") && startswith(t.token_secret_id, "${local.secret_arn_prefix}/tokens/")])
      error_message = "publisher_targets: the publisher may read only ${local.secret_path}/rotated/* and write only ${local.secret_path}/tokens/*; give secret ARNs under those paths."
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
