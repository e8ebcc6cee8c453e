-- The Quarto features evalkit's documents use, for the Pandoc path (Quarto reads them natively):
--  * ::: {.content-visible when-format="html"} / {.content-hidden unless-format=...}: kept only
--    in the matching output (html, or typst for PDF);
--  * callouts (::: {.callout-note} / -tip / -warning / -important / -caution, with title= or a
--    first heading): styled boxes in HTML, quoted blocks with a bold title elsewhere;
--  * in a dashboard (metadata flag evalkit-dashboard), "## Row" and "## Column" headings are
--    layout, not content, so they are dropped.
-- A document holding executable code chunks ({python}, {r}, ...) is refused: this path renders
-- documents that already hold their published values.
local titles = {note = "Note", tip = "Tip", warning = "Warning", important = "Important", caution = "Caution"}

local function format_matches(name)
  if name == nil then return nil end
  if name == "html" then return FORMAT:match("html") ~= nil end
  if name == "typst" or name == "pdf" then return FORMAT:match("typst") ~= nil end
  return FORMAT == name
end

local function has_class(el, name)
  for _, cls in ipairs(el.classes) do
    if cls == name then return true end
  end
  return false
end

local function visibility(el)
  if has_class(el, "content-visible") then
    local w, u = el.attributes["when-format"], el.attributes["unless-format"]
    if w and not format_matches(w) then return {} end
    if u and format_matches(u) then return {} end
    return el.content
  end
  if has_class(el, "content-hidden") then
    local w, u = el.attributes["when-format"], el.attributes["unless-format"]
    if w and format_matches(w) then return {} end
    if u and not format_matches(u) then return {} end
    return el.content
  end
  return nil
end

local function callout(el)
  local kind = nil
  for _, cls in ipairs(el.classes) do
    local k = cls:match("^callout%-(%w+)$")
    if k and titles[k] then kind = k end
  end
  if not kind then return nil end
  local title = el.attributes["title"]
  local content = el.content
  if not title and #content > 0 and content[1].t == "Header" then
    title = pandoc.utils.stringify(content[1])
    content = pandoc.List({table.unpack(content, 2)})
  end
  title = title or titles[kind]
  local heading = pandoc.Div(pandoc.Plain({pandoc.Strong(pandoc.Str(title))}), {class = "callout-title"})
  if FORMAT:match("html") then
    return pandoc.Div({heading, pandoc.Div(content, {class = "callout-body"})},
      {id = el.identifier, class = "callout callout-" .. kind, role = "note"})
  end
  local blocks = pandoc.List({pandoc.Para({pandoc.Strong(pandoc.Str(title))})})
  blocks:extend(content)
  return pandoc.BlockQuote(blocks)
end

local function refuse_chunk(el)
  if el.text:match("^{%a[%w_-]*[%s,}]") or el.text:match("^{%a[%w_-]*}") then
    error("EVALKIT-EXECUTABLE-CHUNK " .. el.text:sub(1, 40))
  end
  return nil
end

local dashboard = false

local function read_flag(meta)
  dashboard = meta["evalkit-dashboard"] == true
    or pandoc.utils.stringify(meta["evalkit-dashboard"] or "") == "true"
end

local function drop_layout_heading(el)
  if dashboard and el.level == 2 then
    local text = pandoc.utils.stringify(el.content)
    if text == "Row" or text == "Column" then return {} end
  end
  return nil
end

return {{Meta = read_flag}, {Div = visibility}, {Div = callout, Header = drop_layout_heading, Code = refuse_chunk}}
