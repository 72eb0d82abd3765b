terraform {
  # 1.9: variable validations that refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x from 5.40 (logging_config of aws_lambda_function, rotate_immediately of
      # aws_secretsmanager_secret_rotation); tested with 5.100. 6.x renames attributes used here.
      version = ">= 5.40, < 6.0"
    }
  }
}
