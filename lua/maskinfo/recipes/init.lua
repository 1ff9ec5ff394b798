--- The recipe library: real attention patterns, one module each.
-- Each recipe is a table {description=, default_len=, build=function(maskinfo, n)}.
-- @module maskinfo.recipes

local R = {}

--- Recipe names, sorted.
R.names = {
  "bigbird",
  "causal",
  "chunked",
  "decode_step",
  "dilated",
  "encoder_padding",
  "gemma_local_global",
  "longformer",
  "multimodal",
  "packed_documents",
  "padded_batch",
  "per_head_windows",
  "prefix_lm",
  "sliding_window",
  "streaming_sinks",
}

--- The recipe called name, or nil and a message.
function R.get(name)
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    return nil, "recipe name expected"
  end
  for _, n in ipairs(R.names) do
    if n == name then return require("maskinfo.recipes." .. name) end
  end
  return nil, ("no recipe '%s' (see 'maskinfo list')"):format(name)
end

return R
