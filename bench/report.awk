# Turns bench/run.sh's raw lines into the markdown report. Input, tab-separated:
#   <program> time <workload> <median_s> <min_s> <samples> <steps_per_sample> <gflop> <threads>
#   <program> rss  <workload> <baseline_kb> <peak_kb>
#   <program> info <workload> <text>
#   <program> floor <workload> <gflop>   (the fewest product FLOPs any program needs for a step)
# program: heed, torch1 / torch2 (libtorch at 1 / 2 threads), torch (rss runs), blas.
# Ratios are libtorch time / heed time: above 1, heed is faster.

function fmt_time(s) {
  if (s == "") return "-"
  if (s < 1e-3) return sprintf("%.1f us", s * 1e6)
  if (s < 1) return sprintf("%.2f ms", s * 1e3)
  return sprintf("%.3f s", s)
}
function fmt_mb(kb) { return kb == "" ? "-" : kb < 10240 ? sprintf("%.1f MB", kb / 1024) : sprintf("%.0f MB", kb / 1024) }
# a workload's name, marked when run.sh gave up waiting for an idle machine
# (in every round: a round that found it idle is the one the table shows)
function label(w, shown) { return nbusy[w] >= runs[w] ? shown " (busy: " busy[w] "% idle)" : shown }
function fmt_ratio(r) { return r == "" ? "-" : sprintf("%.2fx", r) }
# GFLOP/s of g GFLOP (the product work a program counts for its step) in s seconds
function gflops(g, s) { return (g > 0 && s > 0) ? sprintf("%.0f", g / s) : "-" }
# the faster libtorch setting for w: sets t_best[w] and t_threads[w]
function pick_torch(w) {
  if (t1[w] != "" && (t2[w] == "" || t1[w] <= t2[w])) { t_best[w] = t1[w]; t_threads[w] = 1 }
  else if (t2[w] != "") { t_best[w] = t2[w]; t_threads[w] = 2 }
}
function speedup(w) { return (have_torch && t_best[w] != "" && h[w] > 0) ? t_best[w] / h[w] : "" }
function verdict(ok) { return ok ? "met" : "**missed**" }
# one row of a "against OpenBLAS direct" table: g GFLOP done in s seconds, against d seconds
function vs_row(name, g, s, d, note) {
  printf "| %s | %s | %s | %.0f%% | %.2fx%s |\n", name, fmt_time(s), gflops(g, s), 100 * g / s / peak, s / d, note
}
# the table of workload w against blas_bench's line b, threaded both ways, heed and libtorch
function direct_table(w, b, what_b, last_column, heed_note,    d) {
  print "| | time | GFLOP/s | % of sgemm peak | " last_column " |"
  print "|---|---:|---:|---:|---:|"
  d = direct[b]
  vs_row(what_b ", OpenBLAS's threads", blas_gflop[b], blas[b], d, "")
  if (blas[b "_rows"] != "") vs_row(what_b ", rows split", blas_gflop[b "_rows"], blas[b "_rows"], d, "")
  vs_row("heed", gflop[w], h[w], d, heed_note)
  if (t_best[w] != "") vs_row("libtorch (" t_threads[w] ")", tgflop[w], t_best[w], d, "")
}

# With several rounds a (program, workload) pair has several lines: keep the lowest median.
function lower(old, new) { return (old == "" || new + 0 < old + 0) ? new : old }
$2 == "time" {
  w = $3
  if ($1 == "heed") {
    if (!(w in h)) order[++n] = w
    runs[w]++
    h[w] = lower(h[w], $4); hmin[w] = lower(hmin[w], $5); gflop[w] = $8
  }
  else if ($1 == "torch1") { t1[w] = lower(t1[w], $4); tgflop[w] = $8 }
  else if ($1 == "torch2") { t2[w] = lower(t2[w], $4); tgflop[w] = $8 }
  else if ($1 == "blas") { blas[w] = lower(blas[w], $4); blas_gflop[w] = $8 }
}
$2 == "rss" {
  if ($1 == "heed") { h_base[$3] = $4; h_peak[$3] = $5 }
  else { t_base[$3] = $4; t_peak[$3] = $5 }
}
$2 == "info" && $3 == "-" { about[$1] = $4 }
$2 == "floor" { floor_gflop[$3] = $4 }
$1 == "note" && $2 == "busy" { busy[$3] = $4; nbusy[$3]++ }

END {
  for (i = 1; i <= n; ++i) pick_torch(order[i])
  peak = 0
  for (w in blas) if (w ~ /^sgemm_/ && blas_gflop[w] / blas[w] > peak) { peak = blas_gflop[w] / blas[w]; peak_at = w }
  sub(/^sgemm_/, "", peak_at)
  peak_how = sub(/_rows$/, "", peak_at) ? "rows split between the threads" : "OpenBLAS's own threads"
  # OpenBLAS direct, for W6 and W2: the faster of its two ways to thread (blas_bench.cpp)
  for (w in blas) if (w ~ /_blas$/) {
    direct[w] = blas[w]; direct_how[w] = "OpenBLAS's threads"
    if (blas[w "_rows"] != "" && blas[w "_rows"] < blas[w]) { direct[w] = blas[w "_rows"]; direct_how[w] = "rows split" }
  }

  nb = 0; total_busy = 0
  for (w in nbusy) total_busy += nbusy[w]
  for (i = 1; i <= n; ++i) if (nbusy[order[i]] >= runs[order[i]]) nb++
  if (nb) printf "\n**Warning: %d workloads found no idle machine in any round (marked \"busy\"); their timings are noisy.**\n", nb
  else if (total_busy) printf "Idle check: %d runs of a workload started on a busy machine (after waiting), but every workload had a round that started on a >= 90%% idle one.\n", total_busy
  else print "Idle check: every run of every workload started on a machine >= 90% idle."
  print ""
  print "heed: " about["heed"]
  if (about["heed"] ~ /kernel: (Prescott|Core2|Penryn|Nehalem|Sandybridge)\)/)
    print "**OpenBLAS ran kernels older than the CPU (its fallback where it does not know the CPU): both libraries' products ran several times slower than the CPU allows. heed printed the OPENBLAS_CORETYPE to set; rerun with it.**"
  if (have_torch) print "libtorch: " about["torch1"] " (and 2)"
  else print "libtorch: not found by CMake; heed-only run"
  printf "OpenBLAS sgemm peak, measured: **%.0f GFLOP/s** (n = %s, %s; %s)\n\n", peak, peak_at, peak_how, about["blas"]

  target["W1"] = 10; target["W2"] = 1.2; target["W3"] = 1.5; target["W4"] = 2; target["W5"] = 10; target["W6"] = 1
  target["W7"] = 1.5
  what["W1"] = "seed-000 attention model, 10x50, Adam step"
  what["W2"] = "self-attention d=256, B=16 T=128, MSE + Adam"
  what["W3"] = "LSTM 128->256, B=32 T=50, fwd + sum + bwd"
  what["W4"] = "seq2seq LSTM + attention decoder, B=32 T=20, CE + Adam"
  what["W5"] = "seed-001 tanh net 10-10-5, batch 1, MSE + SGD"
  what["W6"] = "1024^2 matmul fwd + bwd"
  what["W7"] = "byte GPT, 4 layers C=256, B=8 T=128, CE + AdamW"

  print "| workload | | heed | libtorch (threads) | libtorch / heed | target | | heed GFLOP/s | libtorch GFLOP/s |"
  print "|---|---|---:|---:|---:|---:|---|---:|---:|"
  for (i = 1; i <= n; ++i) {
    w = order[i]
    if (!(w in target)) continue
    r = speedup(w)
    tt = t_best[w] == "" ? "-" : fmt_time(t_best[w]) " (" t_threads[w] ")"
    v = r == "" ? "-" : verdict(r >= target[w])
    printf "| %s | %s | %s | %s | %s | >= %sx | %s | %s | %s |\n", label(w, w), what[w], fmt_time(h[w]), tt,
           fmt_ratio(r), target[w], v, gflops(gflop[w], h[w]), gflops(tgflop[w], t_best[w])
  }

  print "\nW6 against OpenBLAS called directly for the same three products (C = A B, dA = dC B^T, dB = A^T dC),"
  print "with OpenBLAS's own threads and with each product's rows split between the threads (as heed's gemm does):\n"
  direct_table("W6", "W6_blas", "OpenBLAS direct", "vs OpenBLAS direct (the faster)",
               " (target <= 1.05x: " verdict(h["W6"] <= 1.05 * direct["W6_blas"]) ")")

  if (blas["W2_blas"] != "") {
    print "\nW2 against its matrix products alone, called straight through OpenBLAS (blas_bench's W2_blas), threaded"
    print "both ways: the products in heed's arrangement (v_proj folded into out_proj, nn/attention.cpp), with no"
    print "softmax, bias, loss or optimizer, so heed's row shows what its step adds to them. GFLOP/s count each"
    printf "library's own products: %.2f GFLOP a step for heed, %s for the layer as written (libtorch).\n\n",
           gflop["W2"], tgflop["W2"] == "" ? "-" : sprintf("%.2f", tgflop["W2"])
    direct_table("W2", "W2_blas", "products alone", "vs products alone (the faster)", "")
  }

  print "\nW3 scaling (time per step should stay flat as T grows: per time step = step time / T, relative to T = 50):\n"
  print "| T | heed | heed per time step | libtorch (threads) | libtorch per time step | libtorch / heed | heed GFLOP/s | libtorch GFLOP/s |"
  print "|---:|---:|---:|---:|---:|---:|---:|---:|"
  split("W3 W3_T100 W3_T200 W3_T400", ws, " "); split("50 100 200 400", ts, " ")
  for (i = 1; i <= 4; ++i) {
    w = ws[i]; T = ts[i]
    hp = h[w] / T; if (i == 1) { h0 = hp; t0 = t_best[w] / T }
    tp = t_best[w] == "" ? "-" : sprintf("%.1f us (%.2f)", 1e6 * t_best[w] / T, t_best[w] / T / t0)
    printf "| %s | %s | %.1f us (%.2f) | %s | %s | %s | %s | %s |\n", label(w, T), fmt_time(h[w]), 1e6 * hp, hp / h0,
           t_best[w] == "" ? "-" : fmt_time(t_best[w]) " (" t_threads[w] ")", tp, fmt_ratio(speedup(w)),
           gflops(gflop[w], h[w]), gflops(tgflop[w], t_best[w])
  }

  print "\nW2 scaling (time, and peak memory: the process's peak RSS and, in brackets, the workload's own part,"
  print "peak minus the RSS before it was built; one [B, T, T] float32 attention matrix is 16 T^2 * 4 bytes):\n"
  print "| T | heed | libtorch (threads) | libtorch / heed | heed GFLOP/s | libtorch GFLOP/s | heed peak RSS | libtorch peak RSS | one [B,T,T] matrix |"
  print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  split("W2_T64 W2 W2_T256 W2_T512", ws, " "); split("64 128 256 512", ts, " ")
  for (i = 1; i <= 4; ++i) {
    w = ws[i]; T = ts[i]
    printf "| %s | %s | %s | %s | %s | %s | %s (%s) | %s (%s) | %s |\n", label(w, T), fmt_time(h[w]),
           t_best[w] == "" ? "-" : fmt_time(t_best[w]) " (" t_threads[w] ")", fmt_ratio(speedup(w)),
           gflops(gflop[w], h[w]), gflops(tgflop[w], t_best[w]), fmt_mb(h_peak[w]), fmt_mb(h_peak[w] - h_base[w]),
           fmt_mb(t_peak[w]), t_peak[w] == "" ? "-" : fmt_mb(t_peak[w] - t_base[w]), fmt_mb(16 * T * T * 4 / 1024)
  }

  if (h["W7"] != "") {
    print "\nW7's matrix products against the measured sgemm peak: GFLOP/s of the whole step, counting the model's own"
    printf "%.2f GFLOP a step (workloads.h: w7_gflop, all of the [T, T] scores counted, as nanoGPT counts them):\n\n", gflop["W7"]
    printf "| | step | GFLOP/s | share of the sgemm peak (%.0f GFLOP/s) | peak RSS (the workload's own) |\n", peak
    print "|---|---:|---:|---:|---:|"
    printf "| heed | %s | %.0f | %.0f%% (target >= 65%%: %s) | %s (%s) |\n", fmt_time(h["W7"]), gflop["W7"] / h["W7"],
           100 * gflop["W7"] / h["W7"] / peak, verdict(gflop["W7"] / h["W7"] >= 0.65 * peak), fmt_mb(h_peak["W7"]),
           fmt_mb(h_peak["W7"] - h_base["W7"])
    if (t_best["W7"] != "")
      printf "| libtorch | %s | %.0f | %.0f%% | %s (%s) |\n", fmt_time(t_best["W7"]), gflop["W7"] / t_best["W7"],
             100 * gflop["W7"] / t_best["W7"] / peak, fmt_mb(t_peak["W7"]), fmt_mb(t_peak["W7"] - t_base["W7"])
    # The floor: the step's fewest FLOPs at the sgemm peak, with nothing else done
    # at all (no softmax, norm, GELU or optimizer). No library is faster than
    # that on this machine, so libtorch's time over it bounds the ratio any
    # library could reach against libtorch here.
    if (floor_gflop["W7"] != "") {
      fl = floor_gflop["W7"] / peak
      printf "\nW7's floor on this machine: its fewest FLOPs (%.2f GFLOP: causal attention's T (T + 1) / 2 scores",
             floor_gflop["W7"]
      printf " only) at the sgemm peak take %s, with nothing else done. heed's step is %.2fx that floor.", fmt_time(fl),
             h["W7"] / fl
      if (t_best["W7"] != "") {
        printf " The highest libtorch / heed any library could reach here is libtorch's %s over the floor, %.2fx.",
               fmt_time(t_best["W7"]), t_best["W7"] / fl
        need = t_best["W7"] / target["W7"]
        if (need > fl)
          printf " W7's %.1fx target asks for a step of %s: the floor plus %s for everything else, with every product at the peak.",
                 target["W7"], fmt_time(need), fmt_time(need - fl)
        else
          printf " W7's %.1fx target asks for a step of %s, below the floor: **out of reach on this machine**.",
                 target["W7"], fmt_time(need)
      }
      print ""
    }
  }
  if (h["W8_T64"] != "") {
    print "\nW8: generation with a KV cache, one new byte at position T - 1 (B = 1, no grad), the W7 model with a"
    print "context of 512; bytes per second = 1 / time per byte:\n"
    print "| T | heed | heed bytes/s | libtorch (threads) | libtorch bytes/s | libtorch / heed |"
    print "|---:|---:|---:|---:|---:|---:|"
    split("W8_T64 W8_T128 W8_T256 W8_T512", ws, " "); split("64 128 256 512", ts, " ")
    for (i = 1; i <= 4; ++i) {
      w = ws[i]
      printf "| %s | %s | %.0f | %s | %s | %s |\n", label(w, ts[i]), fmt_time(h[w]), 1 / h[w],
             t_best[w] == "" ? "-" : fmt_time(t_best[w]) " (" t_threads[w] ")",
             t_best[w] == "" ? "-" : sprintf("%.0f", 1 / t_best[w]), fmt_ratio(speedup(w))
    }
  }

  print "\nW4 peak memory (RSS of a process that builds W4 and runs 5 steps; target: heed's peak no higher than libtorch's):\n"
  print "| | peak RSS | before the workload | the workload's own |"
  print "|---|---:|---:|---:|"
  printf "| heed | %s | %s | %s |\n", fmt_mb(h_peak["W4"]), fmt_mb(h_base["W4"]), fmt_mb(h_peak["W4"] - h_base["W4"])
  if (t_peak["W4"] != "") {
    printf "| libtorch | %s | %s | %s |\n", fmt_mb(t_peak["W4"]), fmt_mb(t_base["W4"]), fmt_mb(t_peak["W4"] - t_base["W4"])
    printf "\nW4 peak RSS target: %s (heed %s vs libtorch %s).\n", verdict(h_peak["W4"] <= t_peak["W4"]),
           fmt_mb(h_peak["W4"]), fmt_mb(t_peak["W4"])
  }

  print "\nAll timings: median per-step time (bench/timing.h), the lowest over the rounds; libtorch / heed uses these medians."
  print "heed's fastest single samples, for reference:"
  line = ""
  for (i = 1; i <= n; ++i) line = line sprintf("%s%s %s", i > 1 ? ", " : "", order[i], fmt_time(hmin[order[i]]))
  print line "."
}
