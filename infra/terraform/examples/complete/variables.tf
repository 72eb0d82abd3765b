variable "region" {
  type        = string
  default     = "us-east-1"
  description = "AWS region of the deployment."
}

variable "environment" {
  type        = string
  default     = "dev"
  description = "Short environment name; see the module's variable."
}

variable "secret_name_prefix" {
  type        = string
  default     = "vgs"
  description = "Secrets live under PREFIX/ENVIRONMENT/."
}

variable "lambda_zip" {
  type        = string
  default     = null
  description = "The artifact of infra/aws/build_lambda.py; null: build/lambda.zip of this repository."
}

variable "rotation_schedule_expression" {
  type        = string
  default     = "rate(7 days)"
  description = "When Secrets Manager rotates the example secret (UTC); never more often than every 4 hours."
}

variable "alarm_email" {
  type        = string
  default     = null
  description = "Optional e-mail address subscribed to the alert topic."
}

variable "create_example_secret" {
  type        = bool
  default     = false
  description = "Create the example rotated secret, its token secret and its rotation. Apply with false first, bootstrap the manager secret (vgs-rotate bootstrap-manager), then true."
}

variable "example_secret_name" {
  type        = string
  default     = "example"
  description = "Name of the example secret (and the base name of its VGS service accounts; at most 11 characters)."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,10}$", var.example_secret_name))
    error_message = "example_secret_name: 1 to 11 letters, digits or '-'."
  }
}

variable "vgs_organization_id" {
  type        = string
  default     = ""
  description = "VGS organization id of the example secret (required with create_example_secret)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,64}$", var.vgs_organization_id))
    error_message = "vgs_organization_id: letters, digits, '_' and '-'."
  }
}

variable "vgs_vault_id" {
  type        = string
  default     = ""
  description = "VGS vault id of the example secret (required with create_example_secret)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,64}$", var.vgs_vault_id))
    error_message = "vgs_vault_id: letters, digits, '_' and '-'."
  }

  validation {
    condition     = !var.create_example_secret || (var.vgs_organization_id != "" && var.vgs_vault_id != "")
    error_message = "vgs_organization_id and vgs_vault_id are required when create_example_secret is true."
  }
}

variable "example_scopes" {
  type        = list(string)
  default     = ["cards:write"]
  description = "Scopes of the example secret's service accounts."
}

variable "vgs_hosts" {
  type = object({
    token_url            = string
    accounts_url         = string
    vault_management_url = string
    cmp_url              = string
  })
  default = {
    token_url            = "https://auth.verygoodsecurity.com/auth/realms/vgs/protocol/openid-connect/token"
    accounts_url         = "https://accounts.apps.verygoodsecurity.com"
    vault_management_url = "https://api.live.verygoodsecurity.com"
    cmp_url              = "https://vgsapi.com"
  }
  description = "VGS endpoints written into the example's seed document. Sandbox: vault_management_url https://api.sandbox.verygoodsecurity.com, cmp_url https://sandbox.vgsapi.com."

  validation {
    condition     = alltrue([for url in values(var.vgs_hosts) : can(regex("^https://[^\\s\"]+$", url))])
    error_message = "vgs_hosts: https:// URLs only."
  }
}
