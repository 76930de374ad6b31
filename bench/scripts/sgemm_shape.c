// OpenBLAS cblas_sgemm for one shape given on the command line (M N K OP), timed as ../shared/anchors/sgemm.c does
// (3 warm-up calls, best of 7 batches); used by gemm_ab.sh.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){ int M=atoi(argv[1]),N=atoi(argv[2]),K=atoi(argv[3]); char ta=argv[4][0],tb=argv[4][1];
 float*A=aligned_alloc(64,((size_t)M*K*4+63)/64*64),*B=aligned_alloc(64,((size_t)K*N*4+63)/64*64),*C=aligned_alloc(64,((size_t)M*N*4+63)/64*64);
 for(size_t i=0;i<(size_t)M*K;i++)A[i]=rand()/(float)RAND_MAX-0.5f; for(size_t i=0;i<(size_t)K*N;i++)B[i]=rand()/(float)RAND_MAX-0.5f;
 enum CBLAS_TRANSPOSE a=ta=='T'?CblasTrans:CblasNoTrans,b=tb=='T'?CblasTrans:CblasNoTrans; int lda=ta=='T'?M:K, ldb=tb=='T'?K:N;
 double flop=2.0*M*N*K,best=1e30; int reps=(int)(1e9/flop); if(reps<3)reps=3;
 for(int w=0;w<3;w++) cblas_sgemm(CblasRowMajor,a,b,M,N,K,1.f,A,lda,B,ldb,0.f,C,N);
 for(int r=0;r<7;r++){int inner=reps/7+1; double t0=now(); for(int i=0;i<inner;i++) cblas_sgemm(CblasRowMajor,a,b,M,N,K,1.f,A,lda,B,ldb,0.f,C,N); double t=(now()-t0)/inner; if(t<best)best=t;}
 printf("openblas %dx%dx%d %c%c best_us %.1f GFLOPs %.1f\n",M,N,K,ta,tb,best*1e6,flop/best/1e9); return 0;}
