terraform {
  # 1.9: variable validations that refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.28: aws_lambda_function.logging_config; tested with 5.100.
      version = ">= 5.28, < 7.0"
    }
  }
}
