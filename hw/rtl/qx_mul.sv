// qx_mul: the fixed-point multiplier, Q(IA).(FA) x Q(IB).(FB), exact, with
// the product converted to the accumulator's Q(QI).(QF) grid: rounded on
// its magnitude with the accumulator's rounding (as the core does), then
// saturated. The rounding position is a constant: no shifter.
module qx_mul #(
    parameter integer QIA = 8, QFA = 8, QIB = 8, QFB = 8,
    parameter integer QI = 16, QF = 16, RM = 0
) (
    input  logic [QIA+QFA-1:0] a,
    input  logic [QIB+QFB-1:0] b,
    output logic [QI+QF-1:0]   q,
    output logic               ovf,
    output logic               unf
);
    localparam integer NA = QIA + QFA;
    localparam integer NB = QIB + QFB;
    localparam integer NP = NA + NB;
    localparam integer N  = QI + QF;
    localparam integer D  = QFA + QFB - QF;     // fraction bits dropped (< 0: appended)
    localparam integer KW = ((NP > N) ? NP : N) + ((D < 0) ? -D : 0) + 2;

    logic signed [NP-1:0] p;
    logic neg, rbit, sticky, up, sat;
    logic [NP-1:0] mag;
    logic [KW-1:0] k0, k;
    logic [N-1:0] hi, lo;

    assign p   = $signed(a) * $signed(b);
    assign neg = p[NP-1];
    assign mag = neg ? NP'(-p) : NP'(p);
    generate
        if (D > 0) begin : g_round
            assign k0     = KW'(mag >> D);
            assign rbit   = mag[D-1];
            if (D > 1) begin : g_st
                assign sticky = |mag[D-2:0];
            end else begin : g_nost
                assign sticky = 1'b0;
            end
        end else begin : g_exact
            assign k0     = KW'(mag) << (-D);
            assign rbit   = 1'b0;
            assign sticky = 1'b0;
        end
    endgenerate
    always_comb begin
        case (RM)
            0: up = rbit & (sticky | k0[0]);
            1: up = rbit;
            3: up = ~neg & (rbit | sticky);
            4: up = neg & (rbit | sticky);
            default: up = 1'b0;
        endcase
    end
    assign k   = k0 + KW'(up);
    assign hi  = {1'b0, {(N - 1){1'b1}}};
    assign lo  = {1'b1, {(N - 1){1'b0}}};
    assign sat = neg ? (k > KW'(lo)) : (k > KW'(hi));
    always_comb begin
        ovf = sat;
        unf = 1'b0;
        if (sat) begin
            q = neg ? lo : hi;
        end else begin
            q = neg ? N'(-k) : N'(k);
            unf = (|p) & ~|k;
        end
    end
endmodule
