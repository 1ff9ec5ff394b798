-- Several documents packed into one row: causal within each document only.
return {
  description = "packed documents + causal (document masking for pre-training)",
  default_len = 64,
  build = function(mi, n)
    return mi.from_segments({ mi.util.documents(n, { 0.4, 0.25, 0.2, 0.15 }) }):apply_causal()
  end,
}
