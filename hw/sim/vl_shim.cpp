// The C face of one verilated bench: compiled once per bench with
// -DTB=<bench> (the model class is V<bench>), it exports `<bench>_ops`, a
// struct tb_ops over the model's wide `in` and `out` ports.
#include <cstdint>

#include "verilated.h"

#define TB_CAT2(a, b) a##b
#define TB_CAT(a, b)  TB_CAT2(a, b)
#define TB_STR2(a)    #a
#define TB_STR(a)     TB_STR2(a)
#define VTOP          TB_CAT(V, TB)
#include TB_STR(TB_CAT(V, TB).h)

extern "C" {
#include "tb.h"
}

namespace {

struct bench {
    VerilatedContext ctx;
    VTOP *top;
};

void *open_bench()
{
    bench *b = new bench;
    b->top = new VTOP{&b->ctx};
    return b;
}

void close_bench(void *h)
{
    bench *b = static_cast<bench *>(h);
    if (!b)
        return;
    b->top->final();
    delete b->top;
    delete b;
}

// Up to 64 bits at any offset, a 32-bit word at a time.
template <typename W> void set_bits(W &w, int off, int width, uint64_t v)
{
    while (width > 0) {
        const int word = off >> 5, sh = off & 31;
        const int n = width < 32 - sh ? width : 32 - sh;
        const uint32_t m = (n == 32 ? ~0u : ((1u << n) - 1)) << sh;
        w[word] = (w[word] & ~m) | ((static_cast<uint32_t>(v) << sh) & m);
        v = n == 64 ? 0 : v >> n;
        off += n;
        width -= n;
    }
}

template <typename W> uint64_t get_bits(const W &w, int off, int width)
{
    uint64_t v = 0;
    int got = 0;
    while (got < width) {
        const int word = off >> 5, sh = off & 31;
        const int n = width - got < 32 - sh ? width - got : 32 - sh;
        const uint32_t m = n == 32 ? ~0u : ((1u << n) - 1);
        v |= static_cast<uint64_t>((w[word] >> sh) & m) << got;
        off += n;
        got += n;
    }
    return v;
}

void set(void *h, int off, int width, uint64_t v)
{
    set_bits(static_cast<bench *>(h)->top->in, off, width, v);
}

uint64_t get(void *h, int off, int width)
{
    return get_bits(static_cast<bench *>(h)->top->out, off, width);
}

void eval(void *h)
{
    static_cast<bench *>(h)->top->eval();
}

void tick(void *h)
{
    VTOP *t = static_cast<bench *>(h)->top;
    t->in[0] &= ~1u;
    t->eval();
    t->in[0] |= 1u;
    t->eval();
}

} // namespace

extern "C" const struct tb_ops TB_CAT(TB, _ops) = {open_bench, close_bench, set, get, eval, tick};
