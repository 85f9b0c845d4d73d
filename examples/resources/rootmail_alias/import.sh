# Import an alias claimed by an older tool (the function app); the next apply adopts it.
terraform import rootmail_alias.workload aws_0f1e2d3c-0000-4000-8000-000000000000@company.com
# Take over an alias another Terraform state holds (only when that state no longer manages it).
terraform import rootmail_alias.workload takeover:aws_0f1e2d3c-0000-4000-8000-000000000000@company.com
