// qx_acc: the saturating fixed-point accumulator as a synthesis unit:
// qx_add and its register, acc = sat(acc + y) on every enabled clock.
module qx_acc #(
    parameter integer N = 21
) (
    input  logic         clk,
    input  logic         clr,
    input  logic         en,
    input  logic [N-1:0] y,
    output logic [N-1:0] acc,
    output logic         ovf
);
    logic [N-1:0] r;

    qx_add #(.N(N)) u_add (.x(acc), .y(y), .s(r), .ovf(ovf));
    always_ff @(posedge clk)
        if (clr) acc <= '0;
        else if (en) acc <= r;
endmodule
