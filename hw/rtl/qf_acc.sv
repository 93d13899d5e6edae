// qf_acc: the floating-point accumulator as a synthesis unit: the adder of
// qf_add and its register, acc = round(acc + y) on every enabled clock
// (the "accumulator" rows of the cost tables).
module qf_acc #(
    parameter integer EC = 6, MC = 5, BC = 31, CSAT = 0, CNOSUB = 0, RM = 0,
    parameter integer XW = 12, SW = 8
) (
    input  logic                 clk,
    input  logic                 clr,
    input  logic                 en,
    input  logic                 y_sign,
    input  logic                 y_zero,
    input  logic                 y_inf,
    input  logic                 y_nan,
    input  logic signed [XW-1:0] y_exp,
    input  logic [SW-1:0]        y_sig,
    output logic [EC+MC:0]       acc,
    output logic                 ovf,
    output logic                 unf,
    output logic                 swamp
);
    logic [EC+MC:0] r;

    qf_add #(.EC(EC), .MC(MC), .BC(BC), .CSAT(CSAT), .CNOSUB(CNOSUB), .RM(RM), .XW(XW),
             .SW(SW)) u_add (
        .acc(acc), .y_sign(y_sign), .y_zero(y_zero), .y_inf(y_inf), .y_nan(y_nan),
        .y_exp(y_exp), .y_sig(y_sig), .res(r), .ovf(ovf), .unf(unf), .swamp(swamp));
    always_ff @(posedge clk)
        if (clr) acc <= '0;
        else if (en) acc <= r;
endmodule
