//NMIGW    PROC
//*--------------------------------------------------------------------
//* nmigw: the IPSec NMI REST gateway as a z/OS started task.
//*
//* NOT YET RUN ON A z/OS SYSTEM. Written from IBM's documentation of
//* BPXBATCH/BPXBATSL and STDENV (z/OS UNIX System Services Command
//* Reference and User's Guide); see deploy/zos/README.md.
//*
//* BPXBATSL runs the gateway by local spawn in this address space, so
//* the started task is the process IKED sees on /var/sock/ipsecmgmt and
//* authorizes by the task's user ID (STARTED class, NMIGWSAF.jcl).
//* The gateway takes every flag also as an NMIGW_* environment variable
//* (--policy is NMIGW_POLICY): STDENV carries them, so no PARM length
//* limit applies. Stop with P NMIGW (SIGTERM: the gateway drains).
//*
//* Install: the binary built with IBM Open Enterprise SDK for Go at
//* /usr/lpp/nmigw/bin/gateway; the environment file below (sample:
//* deploy/zos/nmigw.env, tagged as README.md says).
//*--------------------------------------------------------------------
//GATEWAY  EXEC PGM=BPXBATSL,REGION=0M,TIME=NOLIMIT,
//            PARM='PGM /usr/lpp/nmigw/bin/gateway'
//STDENV   DD PATH='/etc/nmigw/nmigw.env',PATHOPTS=ORDONLY
//STDOUT   DD SYSOUT=*
//STDERR   DD SYSOUT=*
//*       Or keep the variables in a data set member instead:
//*STDENV  DD DISP=SHR,DSN=SYS1.NMIGW.PARMLIB(NMIGWENV)
