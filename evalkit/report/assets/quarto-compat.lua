-- Quarto features the Pandoc fallback understands: callouts become styled boxes (HTML) or
-- quoted blocks with a bold title (Typst and others); in a dashboard (format: dashboard, passed
-- in as the metadata flag evalkit-dashboard), the "## Row" and "## Column" headings are layout,
-- not content, so they are dropped. Everything else passes unchanged.
local titles = {note = "Note", tip = "Tip", warning = "Warning", important = "Important", caution = "Caution"}

function Div(el)
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
    local box = pandoc.Div({heading, pandoc.Div(content, {class = "callout-body"})},
      {id = el.identifier, class = "callout callout-" .. kind, role = "note"})
    return box
  end
  local blocks = pandoc.List({pandoc.Para({pandoc.Strong(pandoc.Str(title))})})
  blocks:extend(content)
  return pandoc.BlockQuote(blocks)
end

-- Pandoc runs the functions of one filter table in a fixed order (Meta after blocks), so the
-- dashboard flag is read in a first pass and the headings are dropped in a second.
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

return {{Meta = read_flag}, {Div = Div, Header = drop_layout_heading}}
