-- bench/load.lua: wrk script for bench/load. A mixed load against pmemd: reads (the volume
-- list, one volume, the pools, the node, /metrics) and volume create / resize / delete on a
-- shared set of names "ld-0" .. "ld-<LOAD_NAMES-1>", so the wrk threads race on them.
--
-- Per-request attribution: run wrk with one connection per thread (-c equal to -t). A wrk
-- connection has one request in flight, so in a thread with one connection every response()
-- answers the request() just before it; the op and its start time are kept in between and the
-- latency is measured here (clock_gettime through LuaJIT's ffi).
--
-- Each thread writes one line per response to $LOAD_OUT/thread-<n>.txt:
--   "<op> <status> <latency_us>"
-- and the first 10 answers per thread that are neither 2xx nor expected (below) go with their
-- body to $LOAD_OUT/bodies-<n>.txt as "<op> <status> <body>".
--
-- Expected in a mixed load, because the threads race on the same names: create 409 (the name
-- exists with another size, after a resize), get / resize / delete 404 (no such volume: never
-- created yet, or deleted by another thread). bench/load classifies the same way.
-- bench/load computes the percentiles and counts from these files once wrk has exited (and
-- flushed them): wrk's thread:get() crashes when it copies tables of this size out of the
-- threads, so done() is not used for it.
--
-- Environment (read in each thread): LOAD_OUT (required), LOAD_NAMES (default 64),
-- LOAD_SEED (default 1).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clk, load_timespec *ts);
]]
local ts = ffi.new("load_timespec")
local function now_us()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local MiB = 1048576
local names = tonumber(os.getenv("LOAD_NAMES") or "64")
local out_dir = os.getenv("LOAD_OUT")

-- op, weight: 55% reads, 45% writes.
local mix = {
	{ "list", 10 }, { "get", 20 }, { "pools", 10 }, { "node", 10 }, { "metrics", 5 },
	{ "create", 20 }, { "resize", 15 }, { "delete", 10 },
}
local total_weight = 0
for _, m in ipairs(mix) do total_weight = total_weight + m[2] end

local counter = 0
function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end

local out, bodies, n_bodies
local pending_op, pending_t0

function init(args)
	if not out_dir then error("bench/load.lua: LOAD_OUT is not set") end
	math.randomseed(tonumber(os.getenv("LOAD_SEED") or "1") * 1000 + tid)
	out = assert(io.open(out_dir .. "/thread-" .. tid .. ".txt", "w"))
	bodies = assert(io.open(out_dir .. "/bodies-" .. tid .. ".txt", "w"))
	n_bodies = 0
end

local function pick()
	local r = math.random() * total_weight
	for _, m in ipairs(mix) do
		r = r - m[2]
		if r < 0 then return m[1] end
	end
	return mix[#mix][1]
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
	local op = pick()
	local name = "ld-" .. math.random(0, names - 1)
	local req
	if op == "list" then
		req = wrk.format("GET", "/v1/volumes")
	elseif op == "get" then
		req = wrk.format("GET", "/v1/volumes/" .. name)
	elseif op == "pools" then
		req = wrk.format("GET", "/v1/pools")
	elseif op == "node" then
		req = wrk.format("GET", "/v1/node")
	elseif op == "metrics" then
		req = wrk.format("GET", "/metrics")
	elseif op == "create" then
		-- Always 1 MiB, so a create of a name that exists with that size is 200, not 409.
		req = wrk.format("POST", "/v1/volumes", json_headers,
			string.format('{"name":"%s","size_bytes":%d}', name, MiB))
	elseif op == "resize" then
		req = wrk.format("POST", "/v1/volumes/" .. name .. "/resize", json_headers,
			string.format('{"size_bytes":%d}', math.random(1, 4) * MiB))
	else
		req = wrk.format("DELETE", "/v1/volumes/" .. name)
	end
	pending_op = op
	pending_t0 = now_us()
	return req
end

local expected = { create = { [409] = true }, get = { [404] = true },
	resize = { [404] = true }, delete = { [404] = true } }

function response(status, headers, body)
	local op = pending_op
	if not op then return end
	pending_op = nil
	out:write(op, " ", status, " ", string.format("%.0f", now_us() - pending_t0), "\n")
	if (status < 200 or status > 299) and not (expected[op] and expected[op][status]) and
	    n_bodies < 10 then
		n_bodies = n_bodies + 1
		bodies:write(op, " ", status, " ", ((body or ""):gsub("%s+", " ")), "\n")
	end
end
