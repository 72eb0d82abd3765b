# The inputs of template.yaml's parameters, with the same rules. Names and secret paths are
# the security boundary: the roles are scoped to PREFIX/ENVIRONMENT/rotated/* and
# PREFIX/ENVIRONMENT/tokens/*, and to functions named FUNCTION_NAME_PREFIX-ENVIRONMENT-*.

variable "environment" {
  type        = string
  default     = "dev"
  description = "Short environment name (dev, staging, prod); part of function, secret, key-alias and schedule names."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment))
    error_message = "environment: 2 to 12 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "function_name_prefix" {
  type        = string
  default     = "vgs-rotation"
  description = "Functions are named PREFIX-ENVIRONMENT-rotation and PREFIX-ENVIRONMENT-publisher."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{1,30}$", var.function_name_prefix))
    error_message = "function_name_prefix: 2 to 31 characters, letters, digits and '-', starting with a letter."
  }
}

variable "secret_name_prefix" {
  type        = string
  default     = "vgs"
  description = "Secrets live under PREFIX/ENVIRONMENT/: the manager at .../manager, rotated secrets at .../rotated/NAME, token secrets at .../tokens/NAME. The roles are scoped to these paths."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_+=.@-]{0,40}$", var.secret_name_prefix))
    error_message = "secret_name_prefix: 1 to 41 characters of A-Z a-z 0-9 _+=.@- (no '/'), starting with a letter or digit."
  }
}

variable "lambda_zip" {
  type        = string
  description = "Path of the Lambda artifact built by infra/aws/build_lambda.py (build/lambda.zip): both functions run it."

  validation {
    condition     = endswith(var.lambda_zip, ".zip")
    error_message = "lambda_zip: the path of build/lambda.zip (python3 infra/aws/build_lambda.py builds it)."
  }
}

variable "kms_key_arn" {
  type        = string
  default     = null
  description = "An existing customer-managed KMS key for the secrets, or null to create one. Its key policy must let this account's IAM policies use it through Secrets Manager (docs/DEPLOY.md)."

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn: a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias, or null to create a key."
  }
}

variable "rotation_schedule_expression" {
  type        = string
  default     = "rate(7 days)"
  description = "When Secrets Manager rotates the secrets in rotated_secrets (UTC), unless a secret gives its own. Never more often than every 4 hours."

  # The same pattern as template.yaml's RotationScheduleExpression (tests/test_terraform.py
  # holds them equal; tests/test_template_schedule.py holds the pattern to the 4-hour rule).
  validation {
    condition     = can(regex("^(rate\\((1 day|([2-9]|[1-9][0-9]|[1-9][0-9][0-9]|1000) days|([4-9]|1[0-9]|2[0-3]) hours)\\)|cron\\(0 ([0-9]|1[0-9]|2[0-3]|\\*/(4|5|6|8|12)) (\\? [^ ?()]+ [^ ?()]+|[^ ?()]+ [^ ?()]+ \\?) [^ ?()]+\\))$", var.rotation_schedule_expression))
    error_message = "rotation_schedule_expression: rate(N hours) with N from 4 to 23, rate(1 day), rate(N days) up to 1000, or cron(0 H DOM MON DOW YEAR) with minutes 0 and H a single hour or */4, */5, */6, */8, */12 (never more often than every 4 hours). Check any expression with: python -m infra.aws.schedule_check EXPR."
  }
}

variable "rotation_window" {
  type        = string
  default     = null
  description = "Optional rotation window (Secrets Manager's Duration, e.g. \"3h\"), applied to every rotated secret without its own. null: Secrets Manager's default."

  validation {
    condition     = var.rotation_window == null || can(regex("^([1-9]|1[0-9]|2[0-4])h$", var.rotation_window))
    error_message = "rotation_window: whole hours from 1h to 24h."
  }
}

variable "rotated_secrets" {
  type = map(object({
    secret_arn          = string
    schedule_expression = optional(string)
    rotation_window     = optional(string)
    rotate_immediately  = optional(bool, true)
  }))
  default     = {}
  description = <<-EOT
    The secrets this deployment rotates, keyed by a name of your choice (a key, not the ARN, so
    secrets created in the same apply can be listed). Each must live under
    SECRET_NAME_PREFIX/ENVIRONMENT/rotated/, use this deployment's KMS key, hold a secret
    document (README "The secret document") and carry the tag vgs-rotation:kind =
    service-account or access-credentials. rotate_immediately (default true) rotates once when
    the configuration is created: bootstrap the manager secret before you add a secret here.
  EOT

  validation {
    condition = alltrue([
      for s in values(var.rotated_secrets) : s.schedule_expression == null || can(regex("^(rate\\((1 day|([2-9]|[1-9][0-9]|[1-9][0-9][0-9]|1000) days|([4-9]|1[0-9]|2[0-3]) hours)\\)|cron\\(0 ([0-9]|1[0-9]|2[0-3]|\\*/(4|5|6|8|12)) (\\? [^ ?()]+ [^ ?()]+|[^ ?()]+ [^ ?()]+ \\?) [^ ?()]+\\))$", s.schedule_expression))
    ])
    error_message = "rotated_secrets: a schedule_expression follows the rules of rotation_schedule_expression (never more often than every 4 hours)."
  }

  validation {
    condition     = alltrue([for s in values(var.rotated_secrets) : s.rotation_window == null || can(regex("^([1-9]|1[0-9]|2[0-4])h$", s.rotation_window))])
    error_message = "rotated_secrets: a rotation_window is whole hours from 1h to 24h."
  }
}

variable "publisher_targets" {
  type = list(object({
    credential_secret_id = string
    token_secret_id      = string
  }))
  default     = []
  description = "The publisher's targets: a rotated secret (ARN, under .../rotated/) and the token secret it publishes to (ARN, under .../tokens/). Empty: the publisher's schedule is created disabled (the publisher refuses a configuration without targets) and the not-running alarm is not created."

  validation {
    condition     = alltrue([for t in var.publisher_targets : t.credential_secret_id != t.token_secret_id])
    error_message = "publisher_targets: a token_secret_id must not be its credential secret (writing a rotated secret abandons its rotation)."
  }
}

variable "token_refresh_minutes" {
  type        = number
  default     = 10
  description = "How often the publisher runs. Keep it at least 10 with the default threshold: a token secret is written at most once per run, and AWS asks for no more than one PutSecretValue per secret every 10 minutes, sustained."

  validation {
    condition     = var.token_refresh_minutes >= 5 && var.token_refresh_minutes <= 60 && floor(var.token_refresh_minutes) == var.token_refresh_minutes
    error_message = "token_refresh_minutes: a whole number from 5 to 60."
  }
}

variable "token_refresh_threshold_seconds" {
  type        = number
  default     = 900
  description = "The publisher replaces a published token once its remaining life falls below this. It must exceed the refresh period (token_refresh_minutes x 60), so a token never expires between two runs."

  validation {
    condition     = var.token_refresh_threshold_seconds >= 120 && var.token_refresh_threshold_seconds <= 3600
    error_message = "token_refresh_threshold_seconds: from 120 to 3600."
  }

  validation {
    condition     = var.token_refresh_threshold_seconds > var.token_refresh_minutes * 60
    error_message = "token_refresh_threshold_seconds must exceed token_refresh_minutes x 60: a published token must outlive the next run."
  }
}

variable "publisher_concurrency" {
  type        = number
  default     = 8
  description = "How many credentials the publisher refreshes at a time."

  validation {
    condition     = var.publisher_concurrency >= 1 && var.publisher_concurrency <= 64 && floor(var.publisher_concurrency) == var.publisher_concurrency
    error_message = "publisher_concurrency: a whole number from 1 to 64."
  }
}

variable "subnet_ids" {
  type        = list(string)
  default     = []
  description = "Optional private subnets for both functions (they then need a NAT or VPC endpoints for Secrets Manager and VGS)."
}

variable "security_group_ids" {
  type        = list(string)
  default     = []
  description = "Security groups for the functions; required when subnet_ids is set."

  validation {
    condition     = length(var.subnet_ids) == 0 || length(var.security_group_ids) > 0
    error_message = "security_group_ids is required when subnet_ids is set."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 90
  description = "Retention of the functions' log groups."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: one of CloudWatch Logs' values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "enable_tracing" {
  type        = bool
  default     = false
  description = "X-Ray tracing of both functions (Powertools Tracer, responses never captured). Adds ~0.3 s to cold starts."
}

variable "alarm_email" {
  type        = string
  default     = null
  description = "Optional e-mail address subscribed to the alert topic."

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email: an e-mail address, or null."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for every resource the module creates (the provider's default_tags apply as well)."
}
