// qf_add: one accumulator step, acc' = round(acc + y), exact sum, one
// rounding (docs/mac.md), for an accumulator format eXmY with any bias,
// IEEE top code, subnormals (or nosub), sat, and rounding rne/rna/rtz/rup/
// rdn (RM follows enum qc_round_mode: 0 rne, 1 rna, 2 rtz, 3 rup, 4 rdn).
//
// The addend y is a finite-or-special value sig x 2^(exp - (SW - 1)); its
// significand is normalized (a product) or, when it is an accumulator value,
// may be a subnormal of the accumulator format. The sum is formed in a
// window of SW + 4 bits below the larger exponent (a carry bit, SW bits,
// guard and round, and the sticky bit 0 that collects every bit shifted out),
// which makes the one rounding exact: a shift of more than three bits leaves
// the result within one binade of the larger operand, and smaller shifts
// lose nothing.
module qf_add #(
    parameter integer EC = 6, MC = 5, BC = 31, CSAT = 0, CNOSUB = 0, RM = 0,
    parameter integer XW = 12,
    parameter integer SW = 8          // >= MC + 1
) (
    input  logic [EC+MC:0]       acc,
    input  logic                 y_sign,
    input  logic                 y_zero,
    input  logic                 y_inf,
    input  logic                 y_nan,
    input  logic signed [XW-1:0] y_exp,
    input  logic [SW-1:0]        y_sig,
    output logic [EC+MC:0]       res,
    output logic                 ovf,
    output logic                 unf,
    output logic                 swamp
);
    localparam integer W   = SW + 4;
    localparam integer LZW = $clog2(W + 1);
    localparam logic signed [XW-1:0] EMINC = XW'(1 - BC);
    localparam logic signed [XW-1:0] EMAXC = XW'((1 << EC) - 2 - BC);
    localparam logic signed [XW-1:0] BIAS_S = XW'(BC);
    localparam logic signed [XW-1:0] WMAX = XW'(W);

    logic a_sign, a_zero, a_inf, a_nan;
    logic signed [XW-1:0] a_exp, y_e, e_big, e_diff, e_lim, e_n, e_r;
    logic [MC:0] a_sig;
    logic [W-1:0] xw, yw, bw, sw_, ss, mag, n, sh_mask;
    logic [W:0] diff;
    logic swap, b_sign, s_sign, sub, neg, r_sign, lost, rzero_sum;
    logic [LZW-1:0] lz, ls;
    logic [MC:0] kept;
    logic [MC+1:0] rnd;
    logic rbit, sticky, lsb, up, hid, big, tiny, rzero;
    logic [EC-1:0] ecode;
    logic [EC+MC:0] maxcode, infcode, nancode;
    logic to_inf;
    integer i;

    qf_decode #(.E(EC), .M(MC), .BIAS(BC), .TOP(0), .SUB(0), .NORM(0), .XW(XW)) dec_acc (
        .code(acc), .sign(a_sign), .zero(a_zero), .inf(a_inf), .nan(a_nan), .exp(a_exp),
        .sig(a_sig));

    // Align: the operand with the larger exponent is B; a zero addend never is.
    assign y_e    = y_zero ? EMINC : y_exp;
    assign xw     = {1'b0, a_sig, {(SW - MC - 1){1'b0}}, 3'b000};
    assign yw     = {1'b0, y_zero ? {SW{1'b0}} : y_sig, 3'b000};
    assign swap   = y_e > a_exp;
    assign e_big  = swap ? y_e : a_exp;
    assign e_diff = swap ? y_e - a_exp : a_exp - y_e;
    assign bw     = swap ? yw : xw;
    assign sw_    = swap ? xw : yw;
    assign b_sign = swap ? y_sign : a_sign;
    assign s_sign = swap ? a_sign : y_sign;
    assign sub    = b_sign ^ s_sign;
    always_comb begin
        sh_mask = ~({W{1'b1}} << e_diff[LZW-1:0]);
        lost = |(sw_ & sh_mask);
        if (e_diff >= WMAX) begin
            ss = {{(W - 1){1'b0}}, |sw_};
        end else begin
            ss = (sw_ >> e_diff[LZW-1:0]) | {{(W - 1){1'b0}}, lost};
        end
    end
    assign diff = sub ? {1'b0, bw} - {1'b0, ss} : {1'b0, bw} + {1'b0, ss};
    // Only an unnormalized B (an accumulator subnormal) can end up smaller.
    assign neg = sub & diff[W];
    assign mag = neg ? W'(-diff) : diff[W-1:0];
    assign r_sign = neg ? s_sign : b_sign;
    assign rzero_sum = ~|mag;

    // Normalize, but never below the smallest normal exponent.
    always_comb begin
        lz = LZW'(W);
        for (i = 0; i < W; i = i + 1)
            if (mag[i]) lz = LZW'(W - 1 - i);
    end
    assign e_lim = e_big + 1 - EMINC;                   // >= 1
    assign ls = ($signed({{(XW - LZW){1'b0}}, lz}) > e_lim) ? LZW'(e_lim) : lz;
    assign n = mag << ls;
    assign e_n = e_big + 1 - $signed({{(XW - LZW){1'b0}}, ls});

    // Round to MC + 1 bits.
    assign kept   = n[W-1 -: MC + 1];
    assign rbit   = n[W-2-MC];
    assign sticky = |n[W-3-MC:0];
    assign lsb    = kept[0];
    always_comb begin
        case (RM)
            0: up = rbit & (sticky | lsb);
            1: up = rbit;
            3: up = ~r_sign & (rbit | sticky);
            4: up = r_sign & (rbit | sticky);
            default: up = 1'b0;
        endcase
    end
    assign rnd = {1'b0, kept} + {{(MC + 1){1'b0}}, up};
    assign e_r = e_n + XW'(rnd[MC+1]);
    assign hid = rnd[MC+1] | rnd[MC];
    assign rzero = ~|rnd;
    assign big = ~rzero & hid & (e_r > EMAXC);
    assign tiny = ~rzero & ~hid & (CNOSUB != 0);
    assign ecode = hid ? EC'(e_r + BIAS_S) : '0;

    assign maxcode = {1'b0, {(EC - 1){1'b1}}, 1'b0, {MC{1'b1}}};
    assign infcode = {1'b0, {EC{1'b1}}, {MC{1'b0}}};
    assign nancode = {1'b0, {EC{1'b1}}, 1'b1, {(MC - 1){1'b0}}};

    always_comb begin
        to_inf = 1'b0;
        ovf = 1'b0;
        unf = 1'b0;
        if (a_nan | y_nan | (a_inf & y_inf & (a_sign ^ y_sign))) begin
            res = nancode;
        end else if (a_inf | y_inf) begin
            res = (CSAT != 0 ? maxcode : infcode) | {a_inf ? a_sign : y_sign, {(EC + MC){1'b0}}};
        end else if (rzero_sum) begin
            // An exact zero: x + (-x) and -0 + +0 are +0, -0 under rdn.
            res = {sub ? (RM == 4) : b_sign, {(EC + MC){1'b0}}};
        end else if (big) begin
            ovf = 1'b1;
            case (RM)
                0, 1: to_inf = 1'b1;
                3: to_inf = ~r_sign;
                4: to_inf = r_sign;
                default: to_inf = 1'b0;
            endcase
            res = ((to_inf && CSAT == 0) ? infcode : maxcode) | {r_sign, {(EC + MC){1'b0}}};
        end else if (rzero | tiny) begin
            unf = 1'b1;
            res = {r_sign, {(EC + MC){1'b0}}};
        end else begin
            // A carry out of the mantissa leaves rnd = 10..0: its top MC bits
            // after the carry are all zero, as are kept's low bits.
            res = {r_sign, ecode, rnd[MC+1] ? rnd[MC:1] : rnd[MC-1:0]};
        end
    end
    assign swamp = ~a_zero & ~a_inf & ~a_nan & ~y_zero & ~y_inf & ~y_nan & (res == acc);
endmodule
