// qf_mul: the floating-point multiplier of CFG-1..CFG-6 (docs/mac.md).
//
// Both inputs are decoded with the CFG's reading (TOP/SUB of qf_decode),
// their significands multiplied exactly, and the product delivered
// normalized: value = sig x 2^(exp - (PW - 1)), sig[PW-1] set when finite
// and nonzero. PMODE picks what happens to the exact product:
//   0  nothing (fused MACs: the product is never rounded),
//   1  flushed to a signed zero below 2^FLUSHE (CFG-2..6 exact products),
//   2  rounded (rne) to the product format EP/MP/BP (CFG-1/2), in place:
//      the rounding position follows the exponent, so a subnormal result
//      stays normalized without a second leading-zero count.
// ovf/unf are the product step's overflow and underflow events.
module qf_mul #(
    parameter integer EA = 5, MA = 2, BA = 15, TA = 0, SA = 0,
    parameter integer EB = 5, MB = 2, BB = 15, TB = 0, SB = 0,
    parameter integer PMODE  = 1,
    parameter integer FLUSHE = -30,
    parameter integer EP = 5, MP = 2, BP = 15, TP = 0, PSAT = 0, PNOSUB = 0,
    parameter integer XW = 12,
    parameter integer PW = MA + MB + 2
) (
    input  logic [EA+MA:0]       a,
    input  logic [EB+MB:0]       b,
    output logic                 sign,
    output logic                 zero,
    output logic                 inf,
    output logic                 nan,
    output logic signed [XW-1:0] exp,
    output logic [PW-1:0]        sig,
    output logic                 ovf,
    output logic                 unf
);
    localparam integer W0 = MA + MB + 2;

    logic sa, za, ia, na, sb, zb, ib, nb;
    logic signed [XW-1:0] ea, eb, e0;
    logic [MA:0] ma;
    logic [MB:0] mb;
    logic [W0-1:0] p, s0;
    logic z0, i0, n0;

    qf_decode #(.E(EA), .M(MA), .BIAS(BA), .TOP(TA), .SUB(SA), .NORM(1), .XW(XW)) dec_a (
        .code(a), .sign(sa), .zero(za), .inf(ia), .nan(na), .exp(ea), .sig(ma));
    qf_decode #(.E(EB), .M(MB), .BIAS(BB), .TOP(TB), .SUB(SB), .NORM(1), .XW(XW)) dec_b (
        .code(b), .sign(sb), .zero(zb), .inf(ib), .nan(nb), .exp(eb), .sig(mb));

    // The exact product: both significands have their leading one, so the
    // product's leading one is in one of its top two bits.
    assign p    = W0'(ma) * W0'(mb);
    assign e0   = ea + eb + XW'(p[W0-1]);
    assign s0   = p[W0-1] ? p : p << 1;
    assign n0   = na | nb | (ia & zb) | (ib & za);
    assign i0   = ~n0 & (ia | ib);
    assign z0   = ~n0 & ~i0 & (za | zb);
    assign sign = sa ^ sb;

    generate
        if (PMODE == 2) begin : g_round
            // Round in place: keep the top k = MP + 1 - sh bits, where sh is
            // how far the product lies below the format's smallest normal.
            localparam integer WR = (W0 > MP + 3) ? W0 : MP + 3;
            localparam integer NW = $clog2(WR + 2) + 1;
            localparam logic signed [XW-1:0] EMINP = XW'(1 - BP);
            localparam logic signed [XW-1:0] EMAXP = XW'((TP == 0) ? (1 << EP) - 2 - BP
                                                                   : (1 << EP) - 1 - BP);
            localparam logic signed [XW-1:0] SHMAX = XW'(MP + 2);
            logic [WR-1:0] v, keep, low;
            logic [WR:0]   r;
            logic signed [XW-1:0] d, sh, rexp;
            logic [NW-1:0] nd;
            logic lsbv, rbit, sticky, up, rzero, big, tiny, has_inf, to_nan, to_max;
            logic [MP:0] rsig, maxsig;

            assign v    = {s0, {(WR - W0){1'b0}}};
            assign d    = EMINP - e0;
            assign sh   = d < 0 ? '0 : (d > SHMAX ? SHMAX : d);
            assign nd   = NW'(WR - MP - 1) + NW'(sh);          // dropped bits, >= 2
            assign keep = {WR{1'b1}} << nd;
            assign low  = ~({WR{1'b1}} << (nd - 1));
            assign lsbv = (nd < NW'(WR)) ? v[nd] : 1'b0;
            assign rbit = (nd - 1 < NW'(WR)) ? v[nd - 1] : 1'b0;
            assign sticky = |(v & low);
            assign up   = rbit & (sticky | lsbv);
            assign r    = {1'b0, v & keep} + (up ? ({{WR{1'b0}}, 1'b1} << nd) : '0);
            assign rzero = ~|r;
            assign rexp = e0 + XW'(r[WR]);
            assign rsig = r[WR] ? r[WR -: MP + 1] : r[WR - 1 -: MP + 1];
            assign maxsig = (TP == 1 || TP == 2) ? {{MP{1'b1}}, 1'b0} : {(MP + 1){1'b1}};
            assign big  = ~rzero & ((rexp > EMAXP) || (rexp == EMAXP && rsig > maxsig));
            assign tiny = ~rzero & (PNOSUB != 0) & (rexp < EMINP);
            assign has_inf = (TP == 0 || TP == 2) && PSAT == 0;
            // A finite product past max, under rne. An infinite one stays
            // infinite whatever the product format (as in the core: only
            // finite products are rounded).
            assign to_nan = ~n0 & ~i0 & big & ~has_inf & (TP == 1) & (PSAT == 0);
            assign to_max = ~n0 & ~i0 & big & ~has_inf & ~to_nan;
            always_comb begin
                nan  = n0 | to_nan;
                inf  = ~nan & (i0 | (big & has_inf));
                zero = ~nan & ~inf & ~to_max & (z0 | rzero | tiny);
                ovf  = ~n0 & ~i0 & ~z0 & big;
                unf  = ~n0 & ~i0 & ~z0 & (rzero | tiny);
                exp  = rexp;
                sig  = rsig;
                if (to_max) begin
                    exp = EMAXP;
                    sig = maxsig;
                end
            end
        end else begin : g_exact
            logic flush;
            localparam logic signed [XW-1:0] FL = XW'(FLUSHE);
            assign flush = (PMODE == 1) & ~n0 & ~i0 & ~z0 & (e0 < FL);
            always_comb begin
                nan  = n0;
                inf  = i0;
                zero = z0 | flush;
                ovf  = 1'b0;
                unf  = flush;
                exp  = e0;
                sig  = PW'(s0);
            end
        end
    endgenerate
endmodule
