// qsystolic: an R x C output-stationary systolic GEMM top built from qmac
// units, with its own tile sequencer: the timing the FPGA backend's cycle
// model charges (docs/fpga.md) comes from here.
//
// After `start`, the sequencer issues, for each of `tiles` output tiles, one
// CLR, then the MACs of k = 0 .. K-1 with a FLUSH after every chunk (chunk
// 0 or >= K: one chunk): 1 + K + ceil(K/chunk) ops per tile, back to back.
// It asks for the operands of the MAC it issues through `kk` and `tile`
// (the caller's operand buffer answers combinationally on `a`, `b`). Ops
// and operands enter unit (0,0) and travel one unit per cycle, so unit
// (i, j) runs every op i+j cycles after unit (0,0): a row's operand is
// delayed i cycles on entry and then passes right, a column's j cycles and
// then passes down. Each unit keeps the order of the MAC semantics (chunks
// in order, k ascending within a chunk), so its results equal the core's.
//
// The cycle after unit (i, j) has run a tile's last FLUSH, its total is
// copied to its output register and fin[i*C+j] pulses for one cycle (the
// next tile's CLR clears the unit in that same cycle). `done` pulses once
// the far corner has run the last tile's last FLUSH, tiles x (1 + K +
// chunks) + (R-1) + (C-1) cycles after the cycle `start` was taken: that
// is qc_board_array_cycles (its results follow on `fin` a cycle later).
module qsystolic #(
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
    parameter integer AW = 8, BW = 8, CW = 12,
    parameter integer NW = 16 // width of K, chunk and the tile count
) (
    input  logic              clk,
    input  logic              start, // taken when idle
    input  logic [NW-1:0]     k,     // >= 1
    input  logic [NW-1:0]     chunk,
    input  logic [NW-1:0]     tiles, // >= 1
    input  logic [R*AW-1:0]   a,     // row i's operand for (tile, kk)
    input  logic [C*BW-1:0]   b,     // column j's operand for (tile, kk)
    output logic [NW-1:0]     kk,    // the k of the MAC being issued
    output logic [NW-1:0]     tile,  // the tile being issued
    output logic              busy,
    output logic              done,  // one cycle: the last result is out
    output logic [R*C-1:0]    fin,   // one cycle: unit's result is out
    output logic [R*C*CW-1:0] res,
    output logic [R*C-1:0]    res_nan
);
    localparam logic [1:0] OP_NOP = 2'd0, OP_CLR = 2'd1, OP_MAC = 2'd2, OP_FLUSH = 2'd3;
    localparam integer D = R + C - 1; // pipeline stages of the wavefront (delays 0 .. R+C-2)

    // ---- the sequencer ----------------------------------------------------
    logic [1:0] phase; // OP_CLR, OP_MAC or OP_FLUSH while busy
    logic [NW-1:0] inchunk, ceff;
    logic [1:0] op_issue;
    logic last_issue, end_issue;

    assign ceff       = (chunk == '0 || chunk > k) ? k : chunk;
    assign op_issue   = busy ? phase : OP_NOP;
    assign last_issue = busy && phase == OP_FLUSH && kk == k;
    assign end_issue  = last_issue && tile == tiles - 1'b1;

    always_ff @(posedge clk) begin
        if (!busy) begin
            if (start) begin
                busy <= 1'b1;
                phase <= OP_CLR;
                tile <= '0;
                kk <= '0;
                inchunk <= '0;
            end
        end else begin
            case (phase)
                OP_CLR: begin
                    phase <= OP_MAC;
                    kk <= '0;
                    inchunk <= '0;
                end
                OP_MAC: begin
                    kk <= kk + 1'b1;
                    inchunk <= inchunk + 1'b1;
                    if (inchunk + 1'b1 == ceff || kk + 1'b1 == k)
                        phase <= OP_FLUSH;
                end
                default: begin // OP_FLUSH
                    inchunk <= '0;
                    if (kk == k) begin
                        if (tile == tiles - 1'b1) begin
                            busy <= 1'b0;
                        end else begin
                            tile <= tile + 1'b1;
                            phase <= OP_CLR;
                        end
                    end else begin
                        phase <= OP_MAC;
                    end
                end
            endcase
        end
    end

    initial begin
        busy = 1'b0;
        phase = OP_CLR;
        tile = '0;
        kk = '0;
        inchunk = '0;
    end

    // ---- the wavefront: ops and their flags, delayed 0 .. R+C-1 cycles -----
    logic [1:0] op_d [0:D];
    logic last_d [0:D];
    logic end_d [0:D];
    assign op_d[0]   = op_issue;
    assign last_d[0] = last_issue;
    assign end_d[0]  = end_issue;
    genvar d;
    generate
        for (d = 1; d <= D; d = d + 1) begin : g_delay
            always_ff @(posedge clk) begin
                op_d[d] <= op_d[d-1];
                last_d[d] <= last_d[d-1];
                end_d[d] <= end_d[d-1];
            end
            initial begin
                op_d[d] = OP_NOP;
                last_d[d] = 1'b0;
                end_d[d] = 1'b0;
            end
        end
    endgenerate

    // The far corner (delay R+C-2 = D-1) runs the last tile's last FLUSH.
    always_ff @(posedge clk)
        done <= end_d[D-1] && op_d[D-1] == OP_FLUSH;
    initial done = 1'b0;

    // ---- operands: skewed on entry, then passed along rows and columns -----
    logic [AW-1:0] a_h [0:R-1][0:C-1];
    logic [BW-1:0] b_v [0:R-1][0:C-1];
    genvar i, j, s;
    generate
        for (i = 0; i < R; i = i + 1) begin : g_askew
            logic [AW-1:0] sk [0:i];
            assign sk[0] = a[i*AW +: AW];
            for (s = 1; s <= i; s = s + 1) begin : g_s
                always_ff @(posedge clk) sk[s] <= sk[s-1];
            end
            assign a_h[i][0] = sk[i];
            for (j = 1; j < C; j = j + 1) begin : g_pass
                always_ff @(posedge clk) a_h[i][j] <= a_h[i][j-1];
            end
        end
        for (j = 0; j < C; j = j + 1) begin : g_bskew
            logic [BW-1:0] sk [0:j];
            assign sk[0] = b[j*BW +: BW];
            for (s = 1; s <= j; s = s + 1) begin : g_s
                always_ff @(posedge clk) sk[s] <= sk[s-1];
            end
            assign b_v[0][j] = sk[j];
            for (i = 1; i < R; i = i + 1) begin : g_pass
                always_ff @(posedge clk) b_v[i][j] <= b_v[i-1][j];
            end
        end
    endgenerate

    // ---- the units --------------------------------------------------------
    generate
        for (i = 0; i < R; i = i + 1) begin : g_row
            for (j = 0; j < C; j = j + 1) begin : g_col
                localparam integer U = i * C + j;
                logic [CW-1:0] total;
                logic total_nan;
                logic [2:0] e_ovf, e_unf;
                logic e_swamp;
                qmac #(.KIND(KIND), .EA(EA), .MA(MA), .BA(BA), .TA(TA), .SA(SA), .EB(EB),
                       .MB(MB), .BB(BB), .TB(TB), .SB(SB), .PMODE(PMODE), .FLUSHE(FLUSHE),
                       .EP(EP), .MP(MP), .BP(BP), .TP(TP), .PSAT(PSAT), .PNOSUB(PNOSUB),
                       .PW(PW), .QIA(QIA), .QFA(QFA), .QIB(QIB), .QFB(QFB), .EC(EC), .MC(MC),
                       .BC(BC), .CSAT(CSAT), .CNOSUB(CNOSUB), .QI(QI), .QF(QF), .RM(RM),
                       .XW(XW), .SW(SW), .AW(AW), .BW(BW), .CW(CW)) u_mac (
                    .clk(clk), .op(op_d[i+j]), .a(a_h[i][j]), .b(b_v[i][j]), .res(total),
                    .res_nan(total_nan), .ev_ovf(e_ovf), .ev_unf(e_unf), .ev_swamp(e_swamp));
                // The cycle after the unit ran its tile's last FLUSH, its total
                // is final: copy it out (the next CLR clears it in this cycle).
                always_ff @(posedge clk) begin
                    fin[U] <= last_d[i+j+1] && op_d[i+j+1] == OP_FLUSH;
                    if (last_d[i+j+1] && op_d[i+j+1] == OP_FLUSH) begin
                        res[U*CW +: CW] <= total;
                        res_nan[U] <= total_nan;
                    end
                end
                initial fin[U] = 1'b0;
            end
        end
    endgenerate
endmodule
