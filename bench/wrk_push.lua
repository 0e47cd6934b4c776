-- wrk script for the "/push requests/s" figure: POSTs a compat push for a user with no
-- connection, so the figure measures the HTTP push path alone (no delivery).
-- Usage: wrk -t2 -c64 -d10s -s bench/wrk_push.lua http://127.0.0.1:8080/push
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"userId":"wrk-nobody","event":"bench","message":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}'

-- No response() callback on purpose: defining one makes wrk parse every reply in Lua.
-- Non-2xx replies are counted by wrk itself (summary.errors.status).
done = function(summary, latency, requests)
  io.write(string.format("wrk_summary requests=%d duration_us=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
