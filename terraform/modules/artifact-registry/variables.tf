variable "project_id" {
  description = "Project that owns the repository."
  type        = string
}

variable "region" {
  description = "Repository location; images are pulled as <region>-docker.pkg.dev/<project>/<repository_id>/<image>."
  type        = string
}

variable "repository_id" {
  description = "Repository name."
  type        = string
}

variable "description" {
  description = "What the repository holds."
  type        = string
}

variable "immutable_tags" {
  description = "Refuse to move a tag once pushed (true for release images, false for a build cache)."
  type        = bool
}

variable "keep_count" {
  description = "Most recent versions per image that are always kept (rollback targets)."
  type        = number
  default     = 20
}

variable "delete_after_days" {
  description = "Versions older than this are deleted unless kept by keep_count."
  type        = number
  default     = 30
}

variable "labels" {
  description = "Labels for the repository."
  type        = map(string)
  default     = {}
}
