// qmac: one MAC unit with its chunk register, computing the chunked dot
// product of docs/mac.md one operation per clock:
//   op 1 CLR    acc = total = +0
//   op 2 MAC    acc = round(acc + a*b)
//   op 3 FLUSH  total = round(total + acc); acc = +0   (the end of a chunk)
//   op 0        nothing
// The accumulator adder is shared between the two kinds of step: a FLUSH
// feeds it the total and the chunk register instead of acc and the product.
// KIND 0: float x float -> float accumulator; 1: float x float -> fixed
// accumulator through the float-to-fixed converter; 2: fixed x fixed ->
// fixed accumulator. `res` is the total (res_nan: a fixed-point total that
// saw a NaN). The ev_* outputs are this cycle's rounding events, one bit per
// place that can raise one: [0] multiplier, [1] converter, [2] adder.
module qmac #(
    parameter integer KIND = 0,
    parameter integer EA = 5, MA = 2, BA = 15, TA = 0, SA = 0,
    parameter integer EB = 5, MB = 2, BB = 15, TB = 0, SB = 0,
    parameter integer PMODE = 1, FLUSHE = -30,
    parameter integer EP = 5, MP = 2, BP = 15, TP = 0, PSAT = 0, PNOSUB = 0,
    parameter integer PW = 6,
    parameter integer QIA = 8, QFA = 8, QIB = 8, QFB = 8,
    parameter integer EC = 6, MC = 5, BC = 31, CSAT = 0, CNOSUB = 0,
    parameter integer QI = 8, QF = 13,
    parameter integer RM = 0,
    parameter integer XW = 12, SW = 8,
    parameter integer AW = 8, BW = 8, CW = 12
) (
    input  logic          clk,
    input  logic [1:0]    op,
    input  logic [AW-1:0] a,
    input  logic [BW-1:0] b,
    output logic [CW-1:0] res,
    output logic          res_nan,
    output logic [2:0]    ev_ovf,
    output logic [2:0]    ev_unf,
    output logic          ev_swamp
);
    localparam logic [1:0] OP_CLR = 2'd1, OP_MAC = 2'd2, OP_FLUSH = 2'd3;

    logic [CW-1:0] acc_q, total_q, x, r;
    logic acc_nan_q, total_nan_q;
    logic flush, do_mac;
    logic m_ovf, m_unf, c_ovf, c_unf, a_ovf, a_unf, a_swamp, c_nan;

    assign flush  = op == OP_FLUSH;
    assign do_mac = op == OP_MAC;
    assign x      = flush ? total_q : acc_q;

    generate
        if (KIND == 0) begin : g_float
            logic p_sign, p_zero, p_inf, p_nan, d_sign, d_zero, d_inf, d_nan;
            logic signed [XW-1:0] p_exp, d_exp;
            logic [PW-1:0] p_sig;
            logic [MC:0] d_sig;
            qf_mul #(.EA(EA), .MA(MA), .BA(BA), .TA(TA), .SA(SA), .EB(EB), .MB(MB), .BB(BB),
                     .TB(TB), .SB(SB), .PMODE(PMODE), .FLUSHE(FLUSHE), .EP(EP), .MP(MP),
                     .BP(BP), .TP(TP), .PSAT(PSAT), .PNOSUB(PNOSUB), .XW(XW), .PW(PW)) u_mul (
                .a(a), .b(b), .sign(p_sign), .zero(p_zero), .inf(p_inf), .nan(p_nan),
                .exp(p_exp), .sig(p_sig), .ovf(m_ovf), .unf(m_unf));
            // The chunk register as an addend, for a FLUSH.
            qf_decode #(.E(EC), .M(MC), .BIAS(BC), .TOP(0), .SUB(0), .NORM(0), .XW(XW)) u_dec (
                .code(acc_q), .sign(d_sign), .zero(d_zero), .inf(d_inf), .nan(d_nan),
                .exp(d_exp), .sig(d_sig));
            qf_add #(.EC(EC), .MC(MC), .BC(BC), .CSAT(CSAT), .CNOSUB(CNOSUB), .RM(RM), .XW(XW),
                     .SW(SW)) u_add (
                .acc(x), .y_sign(flush ? d_sign : p_sign), .y_zero(flush ? d_zero : p_zero),
                .y_inf(flush ? d_inf : p_inf), .y_nan(flush ? d_nan : p_nan),
                .y_exp(flush ? d_exp : p_exp),
                .y_sig(flush ? {d_sig, {(SW - MC - 1){1'b0}}} : {p_sig, {(SW - PW){1'b0}}}),
                .res(r), .ovf(a_ovf), .unf(a_unf), .swamp(a_swamp));
            assign c_ovf = 1'b0;
            assign c_unf = 1'b0;
            assign c_nan = 1'b0;
        end else begin : g_fixed
            logic [CW-1:0] q;
            if (KIND == 1) begin : g_conv
                logic p_sign, p_zero, p_inf, p_nan;
                logic signed [XW-1:0] p_exp;
                logic [PW-1:0] p_sig;
                qf_mul #(.EA(EA), .MA(MA), .BA(BA), .TA(TA), .SA(SA), .EB(EB), .MB(MB),
                         .BB(BB), .TB(TB), .SB(SB), .PMODE(PMODE), .FLUSHE(FLUSHE), .EP(EP),
                         .MP(MP), .BP(BP), .TP(TP), .PSAT(PSAT), .PNOSUB(PNOSUB), .XW(XW),
                         .PW(PW)) u_mul (
                    .a(a), .b(b), .sign(p_sign), .zero(p_zero), .inf(p_inf), .nan(p_nan),
                    .exp(p_exp), .sig(p_sig), .ovf(m_ovf), .unf(m_unf));
                qx_conv #(.QI(QI), .QF(QF), .RM(RM), .XW(XW), .SW(PW)) u_conv (
                    .x_sign(p_sign), .x_zero(p_zero), .x_inf(p_inf), .x_nan(p_nan),
                    .x_exp(p_exp), .x_sig(p_sig), .q(q), .ovf(c_ovf), .unf(c_unf),
                    .nan(c_nan));
            end else begin : g_qmul
                qx_mul #(.QIA(QIA), .QFA(QFA), .QIB(QIB), .QFB(QFB), .QI(QI), .QF(QF),
                         .RM(RM)) u_mul (.a(a), .b(b), .q(q), .ovf(c_ovf), .unf(c_unf));
                assign m_ovf = 1'b0;
                assign m_unf = 1'b0;
                assign c_nan = 1'b0;
            end
            qx_add #(.N(CW)) u_add (.x(x), .y(flush ? acc_q : q), .s(r), .ovf(a_ovf));
            assign a_unf   = 1'b0;
            assign a_swamp = 1'b0;
        end
    endgenerate

    always_ff @(posedge clk) begin
        case (op)
            OP_CLR: begin
                acc_q <= '0;
                total_q <= '0;
                acc_nan_q <= 1'b0;
                total_nan_q <= 1'b0;
            end
            OP_MAC: begin
                acc_q <= r;
                acc_nan_q <= acc_nan_q | c_nan;
            end
            OP_FLUSH: begin
                total_q <= r;
                acc_q <= '0;
                total_nan_q <= total_nan_q | acc_nan_q;
                acc_nan_q <= 1'b0;
            end
            default: ;
        endcase
    end

    assign res      = total_q;
    assign res_nan  = total_nan_q;
    assign ev_ovf   = {a_ovf & (do_mac | flush), c_ovf & do_mac, m_ovf & do_mac};
    assign ev_unf   = {a_unf & (do_mac | flush), c_unf & do_mac, m_unf & do_mac};
    assign ev_swamp = a_swamp & (do_mac | flush);
endmodule
