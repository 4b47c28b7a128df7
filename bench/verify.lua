-- SPDX-License-Identifier: Apache-2.0
-- wrk script of bench/run.d/daemon.sh: POST a CAP package (zip) to /verify with a bearer
-- token, and print the figures daemon.sh reads ("name value" lines) when done.
--
-- Environment:
--   CAPV_BENCH_ZIP       the package file (a zip without a zip comment)
--   CAPV_BENCH_TOKEN     the bearer token
--   CAPV_BENCH_DISTINCT  0 (default): the same bytes every time, so the daemon answers from
--                        its report cache; N > 0: N distinct packages, cycled — the same
--                        members with a different zip comment each, so every one has other
--                        bytes (another cache key) and still verifies exactly like the
--                        original. Each wrk thread takes every T-th of them and builds its
--                        requests once, in init().

local zip_path = assert(os.getenv("CAPV_BENCH_ZIP"), "CAPV_BENCH_ZIP is not set")
local token = assert(os.getenv("CAPV_BENCH_TOKEN"), "CAPV_BENCH_TOKEN is not set")
local distinct = tonumber(os.getenv("CAPV_BENCH_DISTINCT") or "0") or 0

local f = assert(io.open(zip_path, "rb"))
local zip = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/verify"
wrk.headers["Content-Type"] = "application/zip"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = zip

-- A zip ends with its end-of-central-directory record: 22 bytes, the last two of which are
-- the comment length. Appending a comment changes the bytes, not a single member.
assert(zip:sub(-22, -19) == "PK\5\6" and zip:sub(-2) == "\0\0",
       "the package must end with an end-of-central-directory record without a comment")
local function variant(k)
   local comment = string.format("capv-bench-%08d", k)
   return zip:sub(1, -3) .. string.char(#comment % 256, math.floor(#comment / 256)) .. comment
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads - 1)
   for _, t in ipairs(threads) do
      t:set("nthreads", #threads)
   end
end

if distinct > 0 then
   local reqs, n, i = {}, 0, 0

   function init(args)
      for k = tid, distinct - 1, nthreads do
         n = n + 1
         reqs[n] = wrk.format(nil, nil, nil, variant(k))
      end
      if n == 0 then -- more threads than packages: this one repeats the first
         n = 1
         reqs[1] = wrk.format(nil, nil, nil, variant(0))
      end
   end

   function request()
      i = i % n + 1
      return reqs[i]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format("requests %d\n", summary.requests))
   io.write(string.format("seconds %.3f\n", secs))
   io.write(string.format("rate %.1f\n", secs > 0 and summary.requests / secs or 0))
   for _, p in ipairs({ 50, 95, 99 }) do
      io.write(string.format("p%d_ms %.3f\n", p, latency:percentile(p) / 1000))
   end
   io.write(string.format("errors %d\n", e.connect + e.read + e.write + e.status + e.timeout))
end
