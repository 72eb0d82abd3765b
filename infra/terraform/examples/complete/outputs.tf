output "rotation_function_arn" {
  description = "Rotation Lambda."
  value       = module.vgs_rotation.rotation_function_arn
}

output "publisher_function_arn" {
  description = "Publisher Lambda."
  value       = module.vgs_rotation.publisher_function_arn
}

output "rotation_role_arn" {
  description = "Execution role of the rotation Lambda."
  value       = module.vgs_rotation.rotation_role_arn
}

output "publisher_role_arn" {
  description = "Execution role of the publisher Lambda."
  value       = module.vgs_rotation.publisher_role_arn
}

output "manager_secret_arn" {
  description = "Write it with vgs-rotate bootstrap-manager."
  value       = module.vgs_rotation.manager_secret_arn
}

output "kms_key_arn" {
  description = "KMS key of the secrets."
  value       = module.vgs_rotation.kms_key_arn
}

output "alert_topic_arn" {
  description = "SNS topic for alarms and rotation failures."
  value       = module.vgs_rotation.alert_topic_arn
}

output "example_secret_arn" {
  description = "The example rotated secret (with create_example_secret)."
  value       = one(aws_secretsmanager_secret.example[*].arn)
}

output "example_token_secret_arn" {
  description = "The example secret's published access token (with create_example_secret)."
  value       = one(aws_secretsmanager_secret.example_token[*].arn)
}
