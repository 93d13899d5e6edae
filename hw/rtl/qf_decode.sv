// qf_decode: one floating-point code -> sign, class, exponent, significand.
//
// The multiplier's reading of an input format (docs/mac.md) is a choice of
// top-code meaning (TOP) and exponent-code-0 meaning (SUB); NORM brings
// subnormal significands to a leading one (a leading-zero count and a
// shift: the hardware price of reading subnormal inputs as subnormal).
// A finite value is sig x 2^(exp - M): sig[M] is the integer bit.
module qf_decode #(
    parameter integer E    = 5,   // exponent bits (>= 2)
    parameter integer M    = 2,   // stored mantissa bits (>= 1)
    parameter integer BIAS = 15,
    parameter integer TOP  = 0,   // 0 ieee (inf/NaN), 1 fn, 2 inf1, 3 finite
    parameter integer SUB  = 0,   // 0 subnormal, 1 subnormal-as-normal, 2 daz
    parameter integer NORM = 1,   // 1: subnormals come out normalized
    parameter integer XW   = 12   // signed exponent width
) (
    input  logic [E+M:0]         code,
    output logic                 sign,
    output logic                 zero,
    output logic                 inf,
    output logic                 nan,
    output logic signed [XW-1:0] exp,
    output logic [M:0]           sig
);
    localparam integer LZW = $clog2(M + 1);
    localparam logic signed [XW-1:0] BIAS_S = XW'(BIAS);
    localparam logic signed [XW-1:0] EMIN = XW'(1 - BIAS);

    logic [E-1:0] ef;
    logic [M-1:0] mf;
    logic         top_e, e_zero, m_zero, m_ones;
    logic [LZW-1:0] lz;
    integer i;

    assign sign   = code[E+M];
    assign ef     = code[E+M-1:M];
    assign mf     = code[M-1:0];
    assign top_e  = &ef;
    assign e_zero = ~|ef;
    assign m_zero = ~|mf;
    assign m_ones = &mf;

    always_comb begin
        lz = '0;
        for (i = 0; i < M; i = i + 1)
            if (mf[i]) lz = LZW'(M - 1 - i);
    end

    always_comb begin
        nan = 1'b0;
        inf = 1'b0;
        case (TOP)
            0: begin
                nan = top_e & ~m_zero;
                inf = top_e & m_zero;
            end
            1: nan = top_e & m_ones;
            2: inf = top_e & m_ones;
            default: ;
        endcase
        zero = e_zero & (m_zero | (SUB == 2));
        exp  = $signed({{(XW - E){1'b0}}, ef}) - BIAS_S;
        sig  = {1'b1, mf};
        if (e_zero) begin
            if (zero) begin
                exp = EMIN;
                sig = '0;
            end else if (SUB == 1) begin
                exp = -BIAS_S;                       // 1.m x 2^-bias
            end else if (NORM != 0) begin
                exp = -BIAS_S - $signed({{(XW - LZW){1'b0}}, lz});
                sig = {mf, 1'b0} << lz;
            end else begin
                exp = EMIN;                          // 0.m x 2^emin
                sig = {1'b0, mf};
            end
        end
    end
endmodule
