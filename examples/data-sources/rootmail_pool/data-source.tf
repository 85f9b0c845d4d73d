data "rootmail_pool" "this" {
  lifecycle {
    postcondition {
      condition     = self.free >= 10
      error_message = "Fewer than 10 free root-mail aliases are left: add aliases to the pool."
    }
  }
}

output "free_aliases" {
  value = data.rootmail_pool.this.free
}
