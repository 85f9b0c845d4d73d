# Import the link of an alias to its AWS account by the alias e-mail address.
terraform import rootmail_alias_account.workload aws_0f1e2d3c-0000-4000-8000-000000000000@company.com
