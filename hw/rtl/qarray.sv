// qarray: an R x C array of qmac units computing an R x C tile of C = A x B.
// Every cycle row i receives a[i] and column j receives b[j] (broadcast, an
// outer product per cycle), and all units share one op; unit (i, j) holds
// element (i, j). Plain and parametrized so that it simulates quickly; a
// board design adds its operand buffers and, if it wants, systolic skew.
module qarray #(
    parameter integer R = 4, C = 4,
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
    input  logic              clk,
    input  logic [1:0]        op,
    input  logic [R*AW-1:0]   a,
    input  logic [C*BW-1:0]   b,
    output logic [R*C*CW-1:0] res,
    output logic [R*C-1:0]    res_nan,
    output logic [R*C*3-1:0]  ev_ovf,
    output logic [R*C*3-1:0]  ev_unf,
    output logic [R*C-1:0]    ev_swamp
);
    genvar i, j;
    generate
        for (i = 0; i < R; i = i + 1) begin : g_row
            for (j = 0; j < C; j = j + 1) begin : g_col
                localparam integer U = i * C + j;
                qmac #(.KIND(KIND), .EA(EA), .MA(MA), .BA(BA), .TA(TA), .SA(SA), .EB(EB),
                       .MB(MB), .BB(BB), .TB(TB), .SB(SB), .PMODE(PMODE), .FLUSHE(FLUSHE),
                       .EP(EP), .MP(MP), .BP(BP), .TP(TP), .PSAT(PSAT), .PNOSUB(PNOSUB),
                       .PW(PW), .QIA(QIA), .QFA(QFA), .QIB(QIB), .QFB(QFB), .EC(EC), .MC(MC),
                       .BC(BC), .CSAT(CSAT), .CNOSUB(CNOSUB), .QI(QI), .QF(QF), .RM(RM),
                       .XW(XW), .SW(SW), .AW(AW), .BW(BW), .CW(CW)) u_mac (
                    .clk(clk), .op(op), .a(a[i*AW +: AW]), .b(b[j*BW +: BW]),
                    .res(res[U*CW +: CW]), .res_nan(res_nan[U]), .ev_ovf(ev_ovf[U*3 +: 3]),
                    .ev_unf(ev_unf[U*3 +: 3]), .ev_swamp(ev_swamp[U]));
            end
        end
    endgenerate
endmodule
