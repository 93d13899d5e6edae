// qx_conv: the float-to-fixed converter in front of a fixed-point
// accumulator: a float product (sig x 2^(exp - (SW - 1))) rounded to the
// Qm.n grid with the accumulator's rounding, on its magnitude (the core
// rounds sign and magnitude, so rtz truncates toward zero for negative
// values too), then saturated to [-2^(N-1), 2^(N-1) - 1]. Infinities
// saturate without an event; a NaN raises `nan` (the dot product's result
// is then NaN).
module qx_conv #(
    parameter integer QI = 8, QF = 13, RM = 0,
    parameter integer XW = 12,
    parameter integer SW = 8
) (
    input  logic                 x_sign,
    input  logic                 x_zero,
    input  logic                 x_inf,
    input  logic                 x_nan,
    input  logic signed [XW-1:0] x_exp,
    input  logic [SW-1:0]        x_sig,
    output logic [QI+QF-1:0]     q,
    output logic                 ovf,
    output logic                 unf,
    output logic                 nan
);
    localparam integer N  = QI + QF;
    localparam integer FB = SW + 2;             // fraction bits kept for rounding
    localparam integer FW = N + FB;
    localparam integer SHW = $clog2(FW + 1) + 1;
    localparam logic signed [XW-1:0] QF_S = XW'(QF);
    localparam logic signed [XW-1:0] N_S  = XW'(N);
    localparam logic signed [XW-1:0] FW_S = XW'(FW);

    logic signed [XW-1:0] t, sh;
    logic [FW-1:0] f, xs, rmask;
    logic lost, rbit, sticky, up, too_big, sat;
    logic [N-1:0] k0;
    logic [N:0] k;
    logic [N-1:0] hi, lo;

    assign t  = x_exp + QF_S;                   // the leading bit's weight on the grid
    assign sh = t + 3;
    assign xs = FW'(x_sig);
    assign too_big = t >= N_S;
    always_comb begin
        rmask = '0;
        lost = 1'b0;
        if (sh >= 0) begin
            f = xs << sh[SHW-1:0];
        end else if (-sh >= FW_S) begin
            f = '0;
            lost = |x_sig;
        end else begin
            rmask = ~({FW{1'b1}} << (-sh));
            lost = |(xs & rmask);
            f = xs >> (-sh);
        end
    end
    assign k0     = f[FW-1 -: N];
    assign rbit   = f[FB-1];
    assign sticky = (|f[FB-2:0]) | lost;
    always_comb begin
        case (RM)
            0: up = rbit & (sticky | k0[0]);
            1: up = rbit;
            3: up = ~x_sign & (rbit | sticky);
            4: up = x_sign & (rbit | sticky);
            default: up = 1'b0;
        endcase
    end
    assign k   = {1'b0, k0} + {{N{1'b0}}, up};
    assign hi  = {1'b0, {(N - 1){1'b1}}};
    assign lo  = {1'b1, {(N - 1){1'b0}}};
    assign sat = too_big | (x_sign ? (k > {1'b0, lo}) : (k > {1'b0, hi}));

    always_comb begin
        ovf = 1'b0;
        unf = 1'b0;
        nan = 1'b0;
        q   = '0;
        if (x_nan) begin
            nan = 1'b1;
        end else if (x_inf) begin
            q = x_sign ? lo : hi;
        end else if (!x_zero) begin
            if (sat) begin
                ovf = 1'b1;
                q = x_sign ? lo : hi;
            end else begin
                q = x_sign ? N'(-k) : k[N-1:0];
                unf = ~|k;
            end
        end
    end
endmodule
