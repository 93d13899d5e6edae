// qx_add: saturating two's complement addition of two Q(QI).(QF) codes;
// ovf when the exact sum left the range and was clamped.
module qx_add #(
    parameter integer N = 21
) (
    input  logic [N-1:0] x,
    input  logic [N-1:0] y,
    output logic [N-1:0] s,
    output logic         ovf
);
    logic [N:0] e;

    assign e   = {x[N-1], x} + {y[N-1], y};
    assign ovf = e[N] ^ e[N-1];
    assign s   = ovf ? {e[N], {(N - 1){~e[N]}}} : e[N-1:0];
endmodule
