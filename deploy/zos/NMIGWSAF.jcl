//NMIGWSAF JOB (ACCT),'NMIGW RACF',CLASS=A,MSGCLASS=X,NOTIFY=&SYSUID
//*--------------------------------------------------------------------
//* RACF definitions for the nmigw started task. NOT YET RUN ON A z/OS
//* SYSTEM; review with your security administrator (deploy/zos/
//* README.md). Replace SYS1 (the system name, &SYSNAME), TCPIP (the
//* stack's procedure name), the UID and the groups.
//*
//* IKED authorizes NMI requests by the user ID of the connecting
//* process against SERVAUTH profiles EZB.NETMGMT.<sysname>.<stack>.
//* IPSEC.DISPLAY and .CONTROL (READ suffices). The gateway connects as
//* its own user ID NMIGWSTC, so that ID needs READ on both; the gateway
//* then decides per caller from its policy file (or through ZSS).
//*--------------------------------------------------------------------
//TSO      EXEC PGM=IKJEFT01,DYNAMNBR=20
//SYSTSPRT DD SYSOUT=*
//SYSTSIN  DD *
  /* The started task's user ID: protected (no password), with an   */
  /* OMVS segment, in its own group.                                  */
  ADDGROUP NMIGWGRP OMVS(AUTOGID)
  ADDUSER  NMIGWSTC DFLTGRP(NMIGWGRP) NOPASSWORD +
           OMVS(AUTOUID HOME('/var/nmigw') PROGRAM('/bin/sh')) +
           NAME('NMIGW STARTED TASK')

  /* Started task NMIGW runs as NMIGWSTC.                              */
  RDEFINE STARTED NMIGW.* STDATA(USER(NMIGWSTC) GROUP(NMIGWGRP) +
           TRUSTED(NO))
  SETROPTS RACLIST(STARTED) REFRESH

  /* The IPSec NMI: display and control of the stack TCPIP on SYS1.   */
  RDEFINE SERVAUTH EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY UACC(NONE)
  RDEFINE SERVAUTH EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL UACC(NONE)
  PERMIT EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY CLASS(SERVAUTH) +
         ID(NMIGWSTC) ACCESS(READ)
  PERMIT EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL CLASS(SERVAUTH) +
         ID(NMIGWSTC) ACCESS(READ)
  SETROPTS RACLIST(SERVAUTH) REFRESH

  /* AT-TLS: the server certificate on a key ring of NMIGWSTC. The    */
  /* certificate itself is your site's (RACDCERT GENCERT or ADD).      */
  RACDCERT ID(NMIGWSTC) ADDRING(NMIGWRING)
  /* RACDCERT ID(NMIGWSTC) CONNECT(ID(NMIGWSTC) LABEL('NMIGW') +      */
  /*          RING(NMIGWRING) USAGE(PERSONAL) DEFAULT)                */
  PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(NMIGWSTC) +
         ACCESS(READ)
  SETROPTS RACLIST(FACILITY) REFRESH
/*
