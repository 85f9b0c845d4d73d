# Adopt an alias that is already in use (for example handed out by the old function app).
terraform import rootmail_alias.workload aws_0f1e2d3c-0000-4000-8000-000000000000@company.com
