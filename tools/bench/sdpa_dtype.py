# The Python side of tools/bench/SdpaDtypeBench.java (same shapes, same threads): python3 tools/bench/sdpa_dtype.py THREADS REPS
import sys, time, torch
from torch.nn.attention import sdpa_kernel, SDPBackend
torch.set_num_threads(int(sys.argv[1])); reps=int(sys.argv[2])
torch.manual_seed(1)
for dt in (torch.float32, torch.bfloat16):
    q,k,v=[torch.randn(1,4,3097,128).to(dt) for _ in range(3)]
    m1,m2=torch.randn(2048,2048).to(dt),torch.randn(2048,2048).to(dt)
    for be in ("flash","math","matmul2048"):
        best=1e9
        for r in range(-1,reps):
            t0=time.perf_counter()
            with torch.no_grad():
                if be=="matmul2048": (m1@m2).sum().item(); flop=2*2048**3
                else:
                    with sdpa_kernel(SDPBackend.FLASH_ATTENTION if be=="flash" else SDPBackend.MATH):
                        torch.nn.functional.scaled_dot_product_attention(q,k,v).sum().item()
                    flop=4*4*3097*3097*128
            t=time.perf_counter()-t0
            if r>=0: best=min(best,t)
        print(f"python {dt} {be} best {best*1e3:.1f} ms {flop/best/1e9:.1f} GFLOP/s")
