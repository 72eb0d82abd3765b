output "rotation_function_arn" {
  description = "Rotation Lambda: the RotationLambdaARN of every secret under rotated_secret_prefix (RotateSecret, aws_secretsmanager_secret_rotation)."
  value       = aws_lambda_function.rotation.arn
}

output "rotation_function_name" {
  description = "Name of the rotation Lambda."
  value       = aws_lambda_function.rotation.function_name
}

output "publisher_function_arn" {
  description = "Publisher Lambda."
  value       = aws_lambda_function.publisher.arn
}

output "publisher_function_name" {
  description = "Name of the publisher Lambda."
  value       = aws_lambda_function.publisher.function_name
}

output "rotation_role_arn" {
  description = "Execution role of the rotation Lambda."
  value       = aws_iam_role.rotation.arn
}

output "rotation_role_name" {
  description = "Name of the rotation Lambda's execution role."
  value       = aws_iam_role.rotation.name
}

output "publisher_role_arn" {
  description = "Execution role of the publisher Lambda."
  value       = aws_iam_role.publisher.arn
}

output "publisher_role_name" {
  description = "Name of the publisher Lambda's execution role."
  value       = aws_iam_role.publisher.name
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to invoke the publisher."
  value       = aws_iam_role.scheduler.arn
}

output "manager_secret_arn" {
  description = "Manager service-account secret: write it with vgs-rotate bootstrap-manager, use it as manager_secret_arn in secret documents."
  value       = aws_secretsmanager_secret.manager.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the secrets: create new secrets with it (kms_key_id)."
  value       = local.kms_key_arn
}

output "rotated_secret_prefix" {
  description = "Name prefix of the secrets the rotation function may rotate."
  value       = "${local.secret_path}/rotated/"
}

output "token_secret_prefix" {
  description = "Name prefix of the secrets the publisher may write."
  value       = "${local.secret_path}/tokens/"
}

output "alert_topic_arn" {
  description = "SNS topic for alarms and rotation failures; subscribe your on-call here."
  value       = aws_sns_topic.alerts.arn
}

output "publisher_schedule_arn" {
  description = "EventBridge Scheduler schedule that runs the publisher."
  value       = aws_scheduler_schedule.publisher.arn
}

output "publisher_dead_letter_queue_url" {
  description = "Scheduler dead-letter queue of the publisher."
  value       = aws_sqs_queue.publisher_dlq.url
}
