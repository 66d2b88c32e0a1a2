import torch, time
torch.set_num_threads(2)
for n in (1, 4):
    for k in (1, 3):
        conv = torch.nn.Conv3d(64, 192, k, bias=False)
        x = torch.randn(n, 64, 4, 28, 28)
        conv(x)
        t0 = time.perf_counter(); y = conv(x); t1 = time.perf_counter()
        print("PYCHECK n=%d k=%d fwd %.1f ms" % (n, k, (t1 - t0) * 1e3), flush=True)
