# Rewrites every kernel<<<grid, block, shmem, stream>>>(args) launch of a .cu file into
# emu::launch(grid, block, shmem, stream, [=]() { kernel(args); }) for scripts/cuda-emu/emu.h.
import sys, re
src = open(sys.argv[1]).read()
out = []
i = 0
while True:
    j = src.find('<<<', i)
    if j < 0:
        out.append(src[i:]); break
    # kernel expression: scan back over balanced <...> and identifier
    k = j
    if src[k-1] == '>':
        depth = 0
        while True:
            k -= 1
            if src[k] == '>': depth += 1
            elif src[k] == '<':
                depth -= 1
                if depth == 0: break
    while k > 0 and (src[k-1].isalnum() or src[k-1] in '_:'):
        k -= 1
    kexpr = src[k:j]
    e = src.find('>>>', j)
    cfg = src[j+3:e]
    assert src[e+3] == '('
    p = e + 3; depth = 0
    while True:
        if src[p] == '(': depth += 1
        elif src[p] == ')':
            depth -= 1
            if depth == 0: break
        p += 1
    args = src[e+4:p]
    out.append(src[i:k])
    out.append('emu::launch(%s, [=]() { %s(%s); })' % (cfg, kexpr, args))
    i = p + 1
open(sys.argv[2], 'w').write(''.join(out))
