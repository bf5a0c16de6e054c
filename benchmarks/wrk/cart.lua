-- Cart traffic for wrk, on the guest carts that benchmarks/cart_load.py made.
--
--   wrk -t2 -c64 -d20s -s benchmarks/wrk/cart.lua http://127.0.0.1:8000 -- DATA SCENARIO [statuses]
--
-- DATA holds one line per cart ("cart TOKEN ITEM_ID [ITEM_ID]") and one per product that may be
-- added ("pair PRODUCT_ID VARIANT_ID"). SCENARIO is one of:
--   view  GET /v1/cart of a random cart
--   add   POST /v1/cart/items, one unit of a random pair, to a random cart
--   mix   60% view, 25% add, 15% PATCH /v1/cart/items/{id} to quantity 1 or 2 on one of its lines
-- With "statuses" every response's status is counted (wrk then reads each response into Lua,
-- which costs load-generator CPU, so measurements leave it off).
--
-- done() prints one line "CART_LOAD_RESULT {json}" that cart_load.py reads.

local carts, products = {}, {}
local scenario = "mix"
local threads = {}
-- A global, not a local: done() reads each thread's copy with thread:get("statuses").
statuses = {}

function setup(thread)
  -- Runs in the main Lua state: remember each thread so done() can collect its counts.
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

local function load(path)
  for line in io.lines(path) do
    local kind, a, b, c = line:match("^(%S+)%s+(%S+)%s*(%S*)%s*(%S*)")
    if kind == "cart" then
      local items = {}
      if b ~= "" then table.insert(items, b) end
      if c ~= "" then table.insert(items, c) end
      table.insert(carts, { token = a, items = items })
    elseif kind == "pair" then
      table.insert(products, string.format(
        '{"product_id":"%s","variant_id":"%s","quantity":1}', a, b))
    end
  end
  assert(#carts > 0 and #products > 0, "no carts or no pairs in " .. path)
end

local function count_status(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function init(args)
  load(args[1])
  scenario = args[2] or "mix"
  assert(scenario == "view" or scenario == "add" or scenario == "mix", "unknown scenario")
  -- Each thread its own stream; the same seed in every thread would replay the same carts.
  math.randomseed(os.time() * 1000 + thread_number * 7919)
  if args[3] == "statuses" then
    -- wrk decides whether to hand responses to Lua after init, so defining it here is enough.
    response = function(status, headers, body) count_status(status) end
  end
end

local function headers_for(cart, with_body)
  local headers = { ["X-Cart-Token"] = cart.token }
  if with_body then headers["Content-Type"] = "application/json" end
  return headers
end

local function view(cart)
  return wrk.format("GET", "/v1/cart", headers_for(cart, false))
end

local function add(cart)
  local body = products[math.random(#products)]
  return wrk.format("POST", "/v1/cart/items", headers_for(cart, true), body)
end

local function change(cart)
  if #cart.items == 0 then return add(cart) end
  local item = cart.items[math.random(#cart.items)]
  local body = string.format('{"quantity":%d}', math.random(2))
  return wrk.format("PATCH", "/v1/cart/items/" .. item, headers_for(cart, true), body)
end

function request()
  local cart = carts[math.random(#carts)]
  if scenario == "view" then return view(cart) end
  if scenario == "add" then return add(cart) end
  local roll = math.random(100)
  if roll <= 60 then return view(cart) end
  if roll <= 85 then return add(cart) end
  return change(cart)
end

local function status_json()
  local totals = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses") or {}
    for status, n in pairs(counted) do totals[status] = (totals[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(totals) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'CART_LOAD_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,'
      .. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx":%d,'
      .. '"statuses":%s}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.timeout, e.status, status_json()))
end
